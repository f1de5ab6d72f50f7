import { describe, expect, it } from 'vitest';
import { checkContainerSpec, containerSpecProblems, InvalidContainerSpecError, type ContainerSpec } from './config.js';
import { streamText, type LogEntry } from './logs.js';

const base: ContainerSpec = { rootfs: '/r', args: ['sh'] };
const problems = (extra: Partial<ContainerSpec>): string[] => containerSpecProblems({ ...base, ...extra });

describe('containerSpecProblems', () => {
  it('accepts a full, sensible spec', () => {
    expect(
      problems({
        overlay: { lower: ['/l/2', '/l/1'], upper: '/c/upper', work: '/c/work' },
        env: ['PATH=/bin', 'X=a=b'],
        hostname: 'web-1.example',
        cwd: '/srv',
        user: 'app:1000',
        groups: [10, 20],
        network: { join: '/run/netns/n1' },
        stopSignal: 'usr1',
        stopTimeoutSeconds: 0,
        log: { path: '/c/log', maxSizeBytes: 1024, maxFiles: 3 },
        capAdd: ['net_admin', 'CAP_SYS_TIME'],
        capDrop: ['ALL'],
        seccomp: 'unconfined',
        memoryBytes: 64 * 1024 * 1024,
        memorySwapBytes: -1,
        nanoCpus: 1_500_000_000,
        cpuShares: 512,
        pidsLimit: 100,
        ulimits: [{ name: 'nofile', soft: 1024, hard: 4096 }, { name: 'memlock', soft: -1, hard: -1 }],
        cgroupsPath: '/shoal/c1',
        annotations: { 'com.example.k': 'v' },
      }),
    ).toEqual([]);
  });

  it('names each bad field once, with the reason', () => {
    expect(problems({ rootfs: 'r', args: [], cwd: 'srv', env: ['NOVALUE', '=x'] })).toEqual([
      'rootfs: must be an absolute path, not "r"',
      'args: a container needs a program to run',
      'env[0]: must be KEY=value, not "NOVALUE"',
      'env[1]: must be KEY=value, not "=x"',
      'cwd: must be an absolute path, not "srv"',
    ]);
    expect(problems({ capAdd: ['NET_ADMIN', 'CAP_FLY'], capDrop: ['all', 'teleport'] })).toEqual([
      'capAdd: unknown capability "CAP_FLY"',
      'capDrop: unknown capability "teleport"',
    ]);
    expect(problems({ memoryBytes: -5 })).toEqual(['memoryBytes: must be an integer from 6291456 to 9007199254740991, not -5']);
    expect(problems({ memoryBytes: 1024 })[0]).toMatch(/^memoryBytes: must be an integer from 6291456/);
    expect(problems({ memorySwapBytes: 8 << 20 })).toEqual(['memorySwapBytes: needs memoryBytes (swap is counted with memory)']);
    expect(problems({ memoryBytes: 16 << 20, memorySwapBytes: 8 << 20 })[0]).toMatch(/^memorySwapBytes: must be an integer from 16777216/);
    expect(problems({ nanoCpus: 1_000_000 })[0]).toMatch(/^nanoCpus: must be an integer from 10000000/);
    expect(problems({ cpuShares: 1 })[0]).toMatch(/^cpuShares: must be an integer from 2 to 262144/);
    expect(problems({ pidsLimit: 0 })[0]).toMatch(/^pidsLimit:/);
    expect(problems({ groups: [1, 1.5] })).toEqual(['groups[1]: must be an integer from 0 to 4294967294, not 1.5']);
    expect(problems({ stopSignal: 'SIGNOPE' })).toEqual(['stopSignal: unknown signal "SIGNOPE"']);
    expect(problems({ stopSignal: 65 })).toEqual(['stopSignal: unknown signal 65']);
    expect(problems({ hostname: 'has space' })).toEqual(['hostname: not a valid host name: "has space"']);
    expect(problems({ hostname: 'a'.repeat(65) })[0]).toMatch(/^hostname:/);
    expect(problems({ seccomp: 'strict' as 'default' })).toEqual(['seccomp: must be "default" or "unconfined", not "strict"']);
    expect(problems({ cgroupsPath: '/shoal/../escape' })[0]).toMatch(/^cgroupsPath:/);
    expect(problems({ annotations: { 'org.shoal.log.path': '/x' } })[0]).toMatch(/^annotations\["org.shoal.log.path"\]: empty or reserved/);
    expect(problems({ args: ['a\0b'] })).toEqual(['args[0]: may not contain NUL']);
  });

  it("takes Docker's user forms, names or numbers, and refuses others", () => {
    for (const user of ['', '0', '1000:1000', 'app', 'app:staff', '1000:staff', 'app:50', '4294967294']) expect(problems({ user })).toEqual([]);
    expect(problems({ user: 'a:b:c' })).toEqual(['user: must be USER[:GROUP], each a name or a number, not "a:b:c"']);
    expect(problems({ user: ':5' })[0]).toMatch(/^user: must be USER\[:GROUP\]/);
    expect(problems({ user: 'app:' })[0]).toMatch(/^user: must be USER\[:GROUP\]/);
    expect(problems({ user: '1:4294967295' })).toEqual(['user: id 4294967295 is out of range (0 to 4294967294)']);
  });

  it('checks log rotation settings as Docker does', () => {
    expect(problems({ log: { path: 'log' } })).toEqual(['log.path: must be an absolute path, not "log"']);
    expect(problems({ log: { path: '/log', maxFiles: 3 } })).toEqual(['log.maxFiles: needs log.maxSizeBytes']);
    expect(problems({ log: { path: '/log', maxSizeBytes: 0 } })[0]).toMatch(/^log.maxSizeBytes:/);
  });

  it('refuses overlay paths the kernel option string cannot carry', () => {
    expect(problems({ overlay: { lower: [], upper: '/u', work: '/w' } })).toEqual(['overlay.lower: needs at least one layer']);
    expect(problems({ overlay: { lower: ['/a:b', 'rel'], upper: '/u,x', work: '/w' } })).toEqual([
      'overlay.lower[0]: may not contain \':\' or \',\': "/a:b"',
      'overlay.lower[1]: must be an absolute path, not "rel"',
      'overlay.upper: may not contain \':\' or \',\': "/u,x"',
    ]);
  });

  it('checks ulimits: known names, no duplicates, soft not above hard', () => {
    expect(
      problems({
        ulimits: [
          { name: 'nofiles', soft: 1, hard: 1 },
          { name: 'nproc', soft: 10, hard: 5 },
          { name: 'core', soft: -1, hard: 0 },
          { name: 'stack', soft: -2, hard: 0 },
          { name: 'core', soft: 0, hard: 0 },
        ],
      }),
    ).toEqual([
      expect.stringMatching(/^ulimits\[0\]: unknown ulimit "nofiles" \(one of as, core, /),
      'ulimits[1]: nproc: soft limit 10 is above the hard limit 5',
      'ulimits[2]: core: soft limit -1 is above the hard limit 0',
      'ulimits[3]: stack: soft and hard must be integers from 0, or -1 for unlimited',
      'ulimits[4]: core given twice',
    ]);
  });

  it('throws one error listing every problem', () => {
    expect(() => checkContainerSpec({ rootfs: 'r', args: [] })).toThrow(InvalidContainerSpecError);
    expect(() => checkContainerSpec({ rootfs: 'r', args: [] })).toThrow(
      'invalid container spec:\n  rootfs: must be an absolute path, not "r"\n  args: a container needs a program to run',
    );
    expect(() => checkContainerSpec(base)).not.toThrow();
  });
});

describe('streamText', () => {
  it('joins the entries of one stream, so a long line split by the runtime reads whole', () => {
    const entries: LogEntry[] = [
      { time: 't', stream: 'stdout', log: 'long ' },
      { time: 't', stream: 'stderr', log: 'err\n' },
      { time: 't', stream: 'stdout', log: 'line\n' },
    ];
    expect(streamText(entries, 'stdout')).toBe('long line\n');
    expect(streamText(entries, 'stderr')).toBe('err\n');
  });
});
