import { describe, expect, it } from 'vitest';
import { InvalidContainerSpecError, type ContainerSpec } from '../config.js';
import { buildOciConfig, renderOciConfig } from './build-config.js';

const base: ContainerSpec = { rootfs: '/b/rootfs', args: ['sh', '-c', 'echo hi'], env: ['PATH=/bin'] };

describe('buildOciConfig', () => {
  it("gives a minimal spec Docker's defaults", () => {
    const config = buildOciConfig(base);
    expect(config.ociVersion).toBe('1.0.2');
    expect(config.root).toEqual({ path: '/b/rootfs' });
    expect(config.hostname).toBeUndefined();
    expect(config.process).toMatchObject({
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['sh', '-c', 'echo hi'],
      env: ['PATH=/bin'],
      cwd: '/',
    });
    expect(config.process.rlimits).toBeUndefined();
    expect(config.process.noNewPrivileges).toBeUndefined();
    const caps = config.process.capabilities;
    expect(caps.bounding).toHaveLength(14);
    expect(caps.effective).toEqual(caps.bounding);
    expect(caps.permitted).toEqual(caps.bounding);
    expect(caps.inheritable).toEqual([]);
    expect(caps.ambient).toEqual([]);

    expect(config.mounts.map((m) => `${m.destination} ${m.type}`)).toEqual([
      '/proc proc',
      '/dev tmpfs',
      '/dev/pts devpts',
      '/dev/shm tmpfs',
      '/dev/mqueue mqueue',
      '/sys sysfs',
      '/sys/fs/cgroup cgroup',
    ]);
    expect(config.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(config.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options).toContain('ro');

    // A network of its own by default, as Docker's --network none; the host's only when asked for.
    expect(config.linux.namespaces).toEqual([{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }]);
    expect(buildOciConfig({ ...base, network: 'host' }).linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(config.linux.maskedPaths).toEqual(expect.arrayContaining(['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware']));
    expect(config.linux.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    expect(config.linux.resources).toBeUndefined();
    expect(config.linux.cgroupsPath).toBeUndefined();
    expect(config.linux.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(config.annotations).toBeUndefined();
  });

  it('carries identity, hostname, network namespace, limits and shoal settings', () => {
    const user = { uid: 1000, gid: 100, additionalGids: [10, 30] };
    const config = buildOciConfig({
      ...base,
      hostname: 'box',
      cwd: '/srv',
      user: 'app',
      groups: [10, 20],
      network: { join: '/run/netns/n1' },
      readOnlyRootfs: true,
      noNewPrivileges: true,
      memoryBytes: 64 << 20,
      nanoCpus: 1_500_000_000,
      cpuShares: 512,
      pidsLimit: 50,
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }],
      cgroupsPath: '/shoal/c1',
      stopSignal: 'SIGUSR1',
      stopTimeoutSeconds: 3,
      log: { path: '/b/log', maxSizeBytes: 4096, maxFiles: 3 },
      overlay: { lower: ['/l/top', '/l/bottom'], upper: '/b/upper', work: '/b/work' },
      annotations: { 'com.example': 'x' },
    }, { user });
    expect(config.hostname).toBe('box');
    expect(config.root).toEqual({ path: '/b/rootfs', readonly: true });
    // The user's own groups, then the spec's extra ones, each once.
    expect(config.process.user).toEqual({ uid: 1000, gid: 100, additionalGids: [10, 30, 20] });
    expect(config.process.cwd).toBe('/srv');
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 }]);
    // Not root: the bounding set limits what setuid programs or file capabilities can give.
    expect(config.process.capabilities.bounding).toHaveLength(14);
    expect(config.process.capabilities.effective).toEqual([]);
    expect(config.process.capabilities.permitted).toEqual([]);
    expect(config.linux.namespaces.at(-1)).toEqual({ type: 'network', path: '/run/netns/n1' });
    expect(config.linux.cgroupsPath).toBe('/shoal/c1');
    expect(config.linux.resources).toEqual({
      memory: { limit: 64 << 20, swap: 128 << 20 },
      cpu: { shares: 512, quota: 150_000, period: 100_000 },
      pids: { limit: 50 },
    });
    expect(config.annotations).toEqual({
      'com.example': 'x',
      'org.shoal.log.path': '/b/log',
      'org.shoal.log.max-size': '4096',
      'org.shoal.log.max-files': '3',
      'org.shoal.stop-signal': '10',
      'org.shoal.stop-timeout': '3',
      'org.shoal.rootfs.lower': '/l/top:/l/bottom',
      'org.shoal.rootfs.upper': '/b/upper',
      'org.shoal.rootfs.work': '/b/work',
    });
  });

  it('binds mounts after the defaults and names the DNS relay in an annotation', () => {
    const config = buildOciConfig({
      ...base,
      dnsRelay: '/var/lib/shoal/dns.sock',
      mounts: [{ source: '/var/lib/shoal/c/1/resolv.conf', destination: '/etc/resolv.conf', readOnly: true }],
    });
    expect(config.mounts.at(-1)).toEqual({ destination: '/etc/resolv.conf', type: 'bind', source: '/var/lib/shoal/c/1/resolv.conf', options: ['rbind', 'nosuid', 'nodev', 'ro'] });
    expect(config.annotations?.['org.shoal.dns.relay']).toBe('/var/lib/shoal/dns.sock');
    expect(() => buildOciConfig({ ...base, network: 'host', dnsRelay: '/s' })).toThrow(/dnsRelay: needs a network namespace/);
    expect(() => buildOciConfig({ ...base, mounts: [{ source: 'rel', destination: '/a/../b' }] })).toThrow(/mounts\[0\]\.source[^]*mounts\[0\]\.destination: may not contain/);
  });

  it('follows Docker for swap: unlimited as -1, or the total given', () => {
    expect(buildOciConfig({ ...base, memoryBytes: 8 << 20, memorySwapBytes: -1 }).linux.resources?.memory).toEqual({ limit: 8 << 20, swap: -1 });
    expect(buildOciConfig({ ...base, memoryBytes: 8 << 20, memorySwapBytes: 8 << 20 }).linux.resources?.memory).toEqual({ limit: 8 << 20, swap: 8 << 20 });
  });

  it('sets --cpus as a quota over a 100 ms period', () => {
    expect(buildOciConfig({ ...base, nanoCpus: 10_000_000 }).linux.resources?.cpu).toEqual({ quota: 1000, period: 100_000 });
    expect(buildOciConfig({ ...base, nanoCpus: 2_000_000_000 }).linux.resources?.cpu).toEqual({ quota: 200_000, period: 100_000 });
  });

  it('applies cap add and drop to every set and to the seccomp profile', () => {
    const config = buildOciConfig({ ...base, capAdd: ['SYS_ADMIN'], capDrop: ['ALL'] });
    expect(config.process.capabilities.bounding).toEqual(['CAP_SYS_ADMIN']);
    expect(config.process.capabilities.effective).toEqual(['CAP_SYS_ADMIN']);
    expect(config.linux.seccomp?.syscalls[0]?.names).toContain('mount');
    expect(config.linux.seccomp?.syscalls[0]?.names).not.toContain('chroot');
    expect(buildOciConfig({ ...base, capAdd: ['ALL'] }, { lastCap: 37 }).process.capabilities.bounding).toHaveLength(38);
  });

  it('leaves seccomp out when unconfined', () => {
    expect(buildOciConfig({ ...base, seccomp: 'unconfined' }).linux.seccomp).toBeUndefined();
  });

  it('needs a named user resolved by its caller, which reads the files this builder does not', () => {
    expect(() => buildOciConfig({ ...base, user: 'app' })).toThrow('user "app" must be resolved against the container\'s files first (resolveUser)');
    expect(buildOciConfig({ ...base, groups: [5] }).process.user).toEqual({ uid: 0, gid: 0, additionalGids: [5] });
  });

  it('refuses a bad spec with every problem named', () => {
    expect(() => buildOciConfig({ ...base, capAdd: ['FLY'], memoryBytes: -1 })).toThrow(InvalidContainerSpecError);
    expect(() => buildOciConfig({ ...base, capAdd: ['FLY'], memoryBytes: -1 })).toThrow(/capAdd: unknown capability "FLY"\n {2}memoryBytes: /);
  });
});

describe('renderOciConfig', () => {
  it('writes JSON, with an unlimited rlimit as the exact uint64 RLIM_INFINITY', () => {
    const text = renderOciConfig(buildOciConfig({ ...base, ulimits: [{ name: 'memlock', soft: -1, hard: -1 }, { name: 'core', soft: 0, hard: 0 }] }));
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toMatch(/"type": "RLIMIT_MEMLOCK",\s+"soft": 18446744073709551615,\s+"hard": 18446744073709551615/);
    expect(text).toMatch(/"type": "RLIMIT_CORE",\s+"soft": 0,\s+"hard": 0/);
    const parsed = JSON.parse(text) as { process: { args: string[] } };
    expect(parsed.process.args).toEqual(base.args);
  });

  it('round-trips every string as written, quotes and backslashes included', () => {
    const args = ['printf', '"\\u0000bigint:5"', 'a\\b'];
    const parsed = JSON.parse(renderOciConfig(buildOciConfig({ ...base, args }))) as { process: { args: string[] } };
    expect(parsed.process.args).toEqual(args);
  });
});
