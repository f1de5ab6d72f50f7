/**
 * caps.c in real processes (needs root): testing/caps-driver.c, built here with caps.c, drops to
 * the given sets as the container's init does and prints /proc/self/status or execs a command.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDriver } from './testing/build-driver.js';

/** What Docker (and shoal) keeps by default. */
const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** The numbers as the kernel headers define them, the reference the name table must match. */
const HEADER_NUMBERS = new Map(
  [...readFileSync('/usr/include/linux/capability.h', 'utf8').matchAll(/^#define (CAP_[A-Z_]+)\s+(\d+)\s*$/gm)].map(
    (m) => [m[1]!, Number(m[2])],
  ),
);

let work: string;
let driver: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-caps-'));
  // uid 1000 runs the driver too.
  chmodSync(work, 0o755);
  driver = buildDriver(work, 'caps-driver', ['caps.c', 'testing/caps-driver.c']);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function run(args: string[]): { out: string; err: string; code: number | null } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, code: r.status };
}

function mask(names: readonly string[]): bigint {
  return names.reduce((m, name) => m | (1n << BigInt(HEADER_NUMBERS.get(name)!)), 0n);
}

/** CapInh, CapPrm, CapEff, CapBnd and CapAmb of a /proc/PID/status text, as masks. */
function capSets(status: string): Record<string, bigint> {
  const lines = [...status.matchAll(/^(Cap\w+):\s*([0-9a-f]+)$/gm)];
  return Object.fromEntries(lines.map((m) => [m[1]!, BigInt(`0x${m[2]}`)]));
}

interface Sets {
  uid?: number;
  bounding: readonly string[];
  effective?: readonly string[];
  permitted?: readonly string[];
  inheritable?: readonly string[];
  ambient?: readonly string[];
}

/** The driver's apply with these sets, then `cmd` when given; `prefix` runs the driver (unshare -n). */
function apply(sets: Sets, cmd: string[] = [], prefix: string[] = []) {
  const args = [...prefix, driver, 'apply'];
  if (sets.uid !== undefined) args.push('--uid', String(sets.uid));
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
    args.push(`--${set}`, (sets[set] ?? []).join(','));
  }
  return run(cmd.length ? [...args, '--', ...cmd] : args);
}

/** The same list in every set, as Docker gives a container. */
const everywhere = (caps: readonly string[]): Sets => ({
  bounding: caps,
  effective: caps,
  permitted: caps,
  inheritable: caps,
});

const ADD_LINK = ['ip', 'link', 'add', 'shoal-test0', 'type', 'bridge'];

describe('capabilities', () => {
  it('knows every name of linux/capability.h by its number, and no other', () => {
    expect(HEADER_NUMBERS.size).toBeGreaterThanOrEqual(41);
    const names = [...HEADER_NUMBERS.keys(), 'CAP_BOGUS', 'cap_chown', 'CHOWN', ''];
    const { out, code } = run([driver, 'name', ...names]);
    expect(code).toBe(0);
    const got = new Map(
      out
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
    );
    for (const [name, nr] of HEADER_NUMBERS) expect([name, got.get(name)]).toEqual([name, nr]);
    expect([got.get('CAP_BOGUS'), got.get('cap_chown'), got.get('CHOWN'), got.get('')]).toEqual([-1, -1, -1, -1]);
  });

  it('reads the highest capability of the running kernel', () => {
    const { out } = run([driver, 'last']);
    expect(Number(out)).toBe(Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')));
  });

  it('leaves a process that changed to uid 1000 with exactly the sets it was given', () => {
    const sets = {
      uid: 1000,
      bounding: [...DEFAULT_CAPS, 'CAP_NET_ADMIN'],
      permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_ADMIN'],
      effective: ['CAP_CHOWN', 'CAP_KILL'],
      inheritable: ['CAP_KILL', 'CAP_NET_ADMIN'],
      ambient: ['CAP_NET_ADMIN'],
    };
    const { out, err, code } = apply(sets);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(capSets(out)).toEqual({
      CapBnd: mask(sets.bounding),
      CapPrm: mask(sets.permitted),
      CapEff: mask(sets.effective),
      CapInh: mask(sets.inheritable),
      CapAmb: mask(sets.ambient),
    });
  });

  it('keeps only the ambient capabilities across exec for a user other than root', () => {
    const { out, code } = apply(
      {
        uid: 1000,
        bounding: DEFAULT_CAPS,
        permitted: ['CAP_CHOWN', 'CAP_KILL'],
        effective: ['CAP_CHOWN'],
        inheritable: ['CAP_KILL'],
        ambient: ['CAP_KILL'],
      },
      ['cat', '/proc/self/status'],
    );
    expect(code).toBe(0);
    expect(out).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    const kill = mask(['CAP_KILL']);
    expect(capSets(out)).toEqual({
      CapBnd: mask(DEFAULT_CAPS),
      CapPrm: kill,
      CapEff: kill,
      CapInh: kill,
      CapAmb: kill,
    });
  });

  it('clears ambient capabilities the caller had', () => {
    // The outer driver raises CAP_KILL as ambient and execs the inner one as the same user; the
    // inner one is given no ambient set and must not keep the inherited one.
    const kill = ['CAP_KILL'];
    const inner = [driver, 'apply', '--bounding', 'CAP_KILL', '--permitted', 'CAP_KILL', '--inheritable', 'CAP_KILL'];
    const outer = { uid: 1000, bounding: kill, permitted: kill, inheritable: kill, ambient: kill };
    const { out, code } = apply(outer, inner);
    expect(code).toBe(0);
    expect(capSets(out)).toMatchObject({ CapAmb: 0n, CapPrm: mask(kill), CapInh: mask(kill) });
  });

  it('takes CAP_NET_ADMIN away from root: adding a link in a fresh network namespace fails', () => {
    const denied = apply(everywhere(DEFAULT_CAPS), ADD_LINK, ['unshare', '-n']);
    expect(denied.code).not.toBe(0);
    expect(denied.err).toMatch(/Operation not permitted/);

    const allowed = apply(everywhere([...DEFAULT_CAPS, 'CAP_NET_ADMIN']), ADD_LINK, ['unshare', '-n']);
    expect(allowed.err).toBe('');
    expect(allowed.code).toBe(0);
  });

  it('lets a user other than root add a link with CAP_NET_ADMIN as an ambient capability', () => {
    const netAdmin = ['CAP_NET_ADMIN'];
    const r = apply({ ...everywhere(netAdmin), uid: 1000, ambient: netAdmin }, ADD_LINK, ['unshare', '-n']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);

    const without = apply({ ...everywhere(netAdmin), uid: 1000 }, ADD_LINK, ['unshare', '-n']);
    expect(without.err).toMatch(/Operation not permitted/);
  });

  it('refuses a set with an unknown capability name', () => {
    const r = run([driver, 'apply', '--bounding', 'CAP_CHOWN,CAP_BOGUS']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown capability CAP_BOGUS/);
  });
});
