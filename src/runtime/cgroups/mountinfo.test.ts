import { describe, expect, it } from 'vitest';
import { cgroupDirs, findCgroupLayout, parseMountinfo } from './mountinfo.js';

// This machine's shape: v1 controllers each on their own, a cgroup2 mount with none (hybrid), and
// this process in a nested memory cgroup.
const HYBRID_MOUNTINFO = `22 1 0:20 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 22 0:32 / /mnt/memory\\040again rw,relatime - cgroup cgroup rw,memory
`;
const HYBRID_SELF = `9:name=systemd:/
8:pids:/
4:memory:/process_api/8778
3:cpuset:/
1:cpu,cpuacct:/
0::/
`;

describe('parseMountinfo', () => {
  it('reads the fields around the optional ones and undoes the octal escapes', () => {
    const line = '41 22 0:38 /sub /mnt/a\\040b\\134c rw,nosuid shared:10 master:2 - cgroup2 cg\\040src rw,nsdelegate';
    const [entry] = parseMountinfo(`${line}\n`);
    expect(entry).toEqual({
      mountId: 41,
      parentId: 22,
      majorMinor: '0:38',
      root: '/sub',
      mountPoint: '/mnt/a b\\c',
      options: ['rw', 'nosuid'],
      optionalFields: ['shared:10', 'master:2'],
      fsType: 'cgroup2',
      source: 'cg src',
      superOptions: ['rw', 'nsdelegate'],
    });
  });

  it('skips lines without the separator', () => {
    expect(parseMountinfo('garbage\n\n')).toEqual([]);
  });
});

describe('findCgroupLayout', () => {
  it('takes every v1 hierarchy once, then the unified one, on a hybrid host', () => {
    const layout = findCgroupLayout(HYBRID_MOUNTINFO, HYBRID_SELF);
    expect(layout.version).toBe(1);
    expect(layout.hierarchies).toEqual([
      { version: 1, controllers: ['cpu', 'cpuacct'], mountPoint: '/sys/fs/cgroup/cpu,cpuacct', ownPath: '' },
      { version: 1, controllers: ['cpuset'], mountPoint: '/sys/fs/cgroup/cpuset', ownPath: '' },
      { version: 1, controllers: ['memory'], mountPoint: '/sys/fs/cgroup/memory', ownPath: '/process_api/8778' },
      { version: 1, controllers: ['pids'], mountPoint: '/sys/fs/cgroup/pids', ownPath: '' },
      { version: 1, controllers: ['name=systemd'], mountPoint: '/sys/fs/cgroup/systemd', ownPath: '' },
      { version: 2, controllers: [], mountPoint: '/sys/fs/cgroup/unified', ownPath: '' },
    ]);
  });

  it('uses v2 when no v1 hierarchy holds memory, cpu or pids', () => {
    const layout = findCgroupLayout(
      `40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`,
      '1:name=systemd:/\n0::/user.slice/session-1.scope\n',
    );
    expect(layout).toEqual({
      version: 2,
      hierarchies: [{ version: 2, controllers: [], mountPoint: '/sys/fs/cgroup', ownPath: '/user.slice/session-1.scope' }],
    });
  });

  it('sees its cgroup below a mount of part of the hierarchy, and skips a mount of another part', () => {
    const layout = findCgroupLayout(
      `60 1 0:38 /other /elsewhere rw - cgroup2 cgroup2 rw
61 1 0:38 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw
`,
      '0::/docker/abc/inner\n',
    );
    expect(layout.hierarchies).toEqual([{ version: 2, controllers: [], mountPoint: '/sys/fs/cgroup', ownPath: '/inner' }]);
  });

  it('fails when no cgroup hierarchy is mounted', () => {
    expect(() => findCgroupLayout('22 1 0:20 / / rw - ext4 /dev/vda rw\n', '0::/\n')).toThrow(/no cgroup hierarchy/);
  });
});

describe('cgroupDirs', () => {
  const layout = findCgroupLayout(HYBRID_MOUNTINFO, HYBRID_SELF);

  it('takes an absolute path from each mount point and a relative one from this process’s cgroup', () => {
    const memory = (path: string): string | undefined =>
      cgroupDirs(layout, path).find((d) => d.hierarchy.controllers.includes('memory'))?.dir;
    expect(memory('/shoal/web.1')).toBe('/sys/fs/cgroup/memory/shoal/web.1');
    expect(memory('shoal//./web.1/')).toBe('/sys/fs/cgroup/memory/process_api/8778/shoal/web.1');
    expect(cgroupDirs(layout, '/shoal/x').map((d) => d.dir)).toHaveLength(6);
  });

  it('refuses ".." and a path naming nothing', () => {
    expect(() => cgroupDirs(layout, '/shoal/../../etc')).toThrow(/".." is not allowed/);
    expect(() => cgroupDirs(layout, '/')).toThrow(/names no cgroup/);
  });
});
