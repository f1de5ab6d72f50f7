import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { link, lstat, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile, chmod, chown } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LayerMode } from './apply-layer.js';
import { UnsafePathError } from './scoped-path.js';
import { tarArchive, type TestEntry } from './testing/tar-writer.js';
import { inventory, snapshot, type Node } from './testing/tree.js';
import { unpackLayer } from './unpack-layer.js';

const TAR = 'application/vnd.oci.image.layer.v1.tar';
const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

const zstd = (data: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: data });

function unpack(target: string, archive: Buffer, mode: LayerMode = 'flatten', mediaType = TAR, diffId?: string) {
  const parts: Buffer[] = [];
  for (let at = 0; at < archive.length; at += 4096) parts.push(archive.subarray(at, at + 4096));
  return unpackLayer({ source: Readable.from(parts), mediaType, target, mode, diffId });
}

const dir = (path: string, extra: Partial<TestEntry> = {}): TestEntry => ({ path, type: 'dir', mode: 0o755, ...extra });

const BASE: TestEntry[] = [
  dir('./'),
  dir('etc'),
  { path: 'etc/passwd', content: 'root:x:0:0', mtime: 1_600_000_000 },
  { path: 'etc/shadow', content: 'secret', mode: 0o640, gid: 42 },
  dir('bin'),
  { path: 'bin/busybox', content: 'bb', mode: 0o4755 },
  { path: 'bin/sh', type: 'symlink', linkpath: 'busybox' },
  { path: 'bin/ls', type: 'hardlink', linkpath: 'bin/busybox' },
  dir('dev'),
  { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
  { path: 'dev/sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
  dir('run'),
  { path: 'run/initctl', type: 'fifo', mode: 0o600 },
  dir('long'),
  { path: `long/${'g'.repeat(150)}`, content: 'gnu name' },
  { path: `long/${'p'.repeat(150)}`, content: 'pax name', longNames: 'pax' },
  dir('gone'),
  { path: 'gone/a', content: 'a' },
  dir('gone/b'),
  { path: 'gone/b/c', content: 'c' },
  dir('keep'),
  { path: 'keep/old1', content: 'old' },
  dir('keep/sub'),
  { path: 'keep/sub/old2', content: 'old' },
  dir('keep2'),
  { path: 'keep2/old', content: 'old' },
  { path: 'replace-me', content: 'file for now' },
  dir('replace-dir'),
  { path: 'replace-dir/x', content: 'x' },
  dir('home', { mode: 0o750, uid: 1000, gid: 1000, mtime: 1_500_000_000 }),
  { path: 'home/owned', content: 'mine', uid: 1000, gid: 1000, mode: 0o600, mtime: 1_600_000_000 },
];

const TOP: TestEntry[] = [
  { path: '.wh.gone', content: '' },
  { path: 'etc/.wh.shadow', content: '' },
  dir('keep'),
  dir('keep/sub'),
  { path: 'keep/sub/new2', content: 'new' },
  { path: 'keep/new1', content: 'new' },
  { path: 'keep/.wh..wh..opq', content: '' }, // after its siblings
  { path: 'keep2/.wh..wh..opq', content: '' }, // before them
  { path: 'keep2/new', content: 'new' },
  dir('replace-me'),
  { path: 'replace-me/inner', content: 'inner' },
  { path: 'replace-dir', content: 'now a file' },
  { path: 'same-layer', content: 'survives' },
  { path: '.wh.same-layer', content: '' },
  { path: 'bin/.wh.sh', content: '' },
  { path: 'bin/sh', type: 'symlink', linkpath: '/bin/busybox' },
];

describe('unpackLayer', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'shoal-unpack-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function flattened(): Promise<string> {
    const root = join(work, 'flat');
    await mkdir(root);
    await unpack(root, gzipSync(tarArchive(BASE)), 'flatten', GZIP);
    await unpack(root, zstd(tarArchive(TOP)), 'flatten', ZSTD);
    return root;
  }

  it('flattens layers: every entry type with its metadata, and whiteouts and opaque directories', async () => {
    const tree = await snapshot(await flattened());
    expect(tree['etc/passwd']).toMatchObject({ kind: 'file', content: 'root:x:0:0', mode: 0o644, mtime: 1_600_000_000 });
    expect(tree['etc/shadow']).toBeUndefined();
    expect(tree['bin/busybox']).toMatchObject({ kind: 'file', mode: 0o4755 });
    expect(tree['bin/sh']).toMatchObject({ kind: 'symlink', target: '/bin/busybox' });
    expect(tree['dev/null']).toMatchObject({ kind: 'char', mode: 0o666, rdev: (1 << 8) | 3 });
    expect(tree['dev/sda']).toMatchObject({ kind: 'block', gid: 6, rdev: 8 << 8 });
    expect(tree['run/initctl']).toMatchObject({ kind: 'fifo', mode: 0o600 });
    expect(tree[`long/${'g'.repeat(150)}`]?.content).toBe('gnu name');
    expect(tree[`long/${'p'.repeat(150)}`]?.content).toBe('pax name');
    expect(Object.keys(tree).filter((path) => path.startsWith('gone'))).toEqual([]);
    expect(Object.keys(tree).filter((path) => path.startsWith('keep'))).toEqual(['keep', 'keep/new1', 'keep/sub', 'keep/sub/new2', 'keep2', 'keep2/new']);
    expect(tree['replace-me']?.kind).toBe('dir');
    expect(tree['replace-me/inner']?.content).toBe('inner');
    expect(tree['replace-dir']).toMatchObject({ kind: 'file', content: 'now a file' });
    expect(tree['same-layer']?.content).toBe('survives');
    expect(tree.home).toMatchObject({ kind: 'dir', mode: 0o750, uid: 1000, gid: 1000, mtime: 1_500_000_000 });
    expect(tree['home/owned']).toMatchObject({ uid: 1000, gid: 1000, mode: 0o600, mtime: 1_600_000_000 });
    const root = join(work, 'flat');
    expect((await lstat(join(root, 'bin/ls'))).ino).toBe((await lstat(join(root, 'bin/busybox'))).ino);
  });

  it('does not create directories for a whiteout of something that never existed', async () => {
    const root = join(work, 'root');
    await mkdir(root);
    await unpack(root, tarArchive([{ path: 'missing/.wh.nothing', content: '' }]));
    expect(await snapshot(root)).toEqual({});
  });

  it('unpacks each layer for overlayfs, and the mounted overlay shows the flattened tree', async () => {
    const lower = join(work, 'l1');
    const upper = join(work, 'l2');
    await mkdir(lower);
    await mkdir(upper);
    await unpack(lower, tarArchive(BASE), 'overlay');
    await unpack(upper, tarArchive(TOP), 'overlay');
    const layer = await snapshot(upper);
    expect(layer.gone).toMatchObject({ kind: 'char', rdev: 0 });
    expect(layer['etc/shadow']).toMatchObject({ kind: 'char', rdev: 0 });
    expect(layer['same-layer']?.kind).toBe('file');
    const opaque = (path: string) =>
      execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(upper, path)], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(opaque('keep')).toBe('y');
    expect(opaque('keep2')).toBe('y');

    const merged = join(work, 'merged');
    const scratch = join(work, 'work');
    const empty = join(work, 'upper');
    await Promise.all([mkdir(merged), mkdir(scratch), mkdir(empty)]);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${upper}:${lower},upperdir=${empty},workdir=${scratch}`, merged]);
    try {
      const withoutDirTimes = (tree: Record<string, Node>) =>
        Object.fromEntries(Object.entries(tree).map(([path, node]) => [path, node.kind === 'dir' ? { ...node, mtime: 0 } : node]));
      expect(withoutDirTimes(await snapshot(merged))).toEqual(withoutDirTimes(await snapshot(await flattened())));
    } finally {
      execFileSync('umount', [merged]);
    }
  });

  it('matches the system tar extracting the same archive', async () => {
    const src = join(work, 'src');
    await mkdir(join(src, 'a/b'), { recursive: true });
    await writeFile(join(src, 'a/b/file'), 'content');
    await chmod(join(src, 'a/b/file'), 0o2751);
    await chown(join(src, 'a/b/file'), 33, 44);
    await link(join(src, 'a/b/file'), join(src, 'a/hard'));
    await symlink('../a/b/file', join(src, 'a/soft'));
    await writeFile(join(src, 'x'.repeat(120)), 'long');
    await chmod(join(src, 'a'), 0o711);
    await utimes(join(src, 'a/b'), 1_400_000_000, 1_400_000_000);
    const archive = execFileSync('tar', ['--format=pax', '--numeric-owner', '-C', src, '-cf', '-', '.']);
    const ours = join(work, 'ours');
    const theirs = join(work, 'theirs');
    await Promise.all([mkdir(ours), mkdir(theirs)]);
    await unpack(ours, archive);
    execFileSync('tar', ['--numeric-owner', '-xpf', '-', '-C', theirs], { input: archive });
    expect(await snapshot(ours)).toEqual(await snapshot(theirs));
  });

  it('sets extended attributes after the owner; a merged directory takes the layer\'s set; overlayfs\'s own are not the image\'s to set', async () => {
    const xattrs = async (path: string) => (await inventory(work))[path]?.xattrs;
    // VFS_CAP_REVISION_2, effective, CAP_NET_BIND_SERVICE permitted: chown would clear it.
    const cap = `\x01\x00\x00\x02\x00\x04\x00\x00${'\x00'.repeat(12)}`;
    const root = join(work, 'root');
    await mkdir(root);
    await unpack(
      root,
      tarArchive([
        dir('d', { pax: { 'SCHILY.xattr.user.a': 'one', 'SCHILY.xattr.user.b': 'two' } }),
        { path: 'd/capped', content: 'x', uid: 1000, mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap, 'SCHILY.xattr.user.empty': '' } },
        { path: 'd/link', type: 'symlink', linkpath: 'capped', pax: { 'SCHILY.xattr.trusted.on-link': 'l' } },
        { path: 'd/forged', content: 'x', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
      ]),
    );
    expect(await xattrs('root/d')).toEqual({ 'user.a': '0x6f6e65', 'user.b': '0x74776f' });
    expect(await xattrs('root/d/capped')).toEqual({ 'security.capability': `0x${Buffer.from(cap, 'latin1').toString('hex')}`, 'user.empty': '0x' });
    expect(await xattrs('root/d/link')).toEqual({ 'trusted.on-link': '0x6c' });
    expect(await xattrs('root/d/forged')).toBeUndefined();
    await unpack(root, tarArchive([dir('d', { pax: { 'SCHILY.xattr.user.b': 'new' } })]));
    expect(await xattrs('root/d')).toEqual({ 'user.b': '0x6e6577' });

    // Overlay mode: the opaque marker a whiteout made survives the directory's entry coming after it.
    const layer = join(work, 'layer');
    await mkdir(layer);
    await unpack(layer, tarArchive([{ path: 'o/.wh..wh..opq', content: '' }, dir('o', { pax: { 'SCHILY.xattr.user.c': 'c' } })]), 'overlay');
    expect(await xattrs('layer/o')).toEqual({ 'trusted.overlay.opaque': '0x79', 'user.c': '0x63' });
  });

  it('reports the DiffID and refuses a mismatched one', async () => {
    const archive = tarArchive([{ path: 'f', content: 'x' }]);
    const diffId = `sha256:${createHash('sha256').update(archive).digest('hex')}`;
    const root = join(work, 'root');
    await mkdir(root);
    expect(await unpack(root, gzipSync(archive), 'flatten', GZIP, diffId)).toEqual({ diffId });
    await expect(unpack(root, gzipSync(archive), 'flatten', GZIP, `sha256:${'0'.repeat(64)}`)).rejects.toThrow(/DiffID/);
    await expect(unpack(root, archive, 'flatten', GZIP)).rejects.toThrow(/header|gzip/i);
    await expect(unpack(root, archive, 'flatten', 'application/x-rar')).rejects.toThrow(/unsupported layer media type/);
  });

  describe('refuses to write outside the root', () => {
    let root: string;
    let outside: string;
    beforeEach(async () => {
      root = join(work, 'root');
      outside = join(work, 'outside');
      await mkdir(root);
      await mkdir(outside);
      await writeFile(join(outside, 'target'), 'untouched');
    });

    it.each([
      ['a ".." path', [{ path: '../outside/pwned', content: 'x' }]],
      ['a ".." in the middle', [dir('a'), { path: 'a/../../outside/pwned', content: 'x' }]],
      ['an absolute path', [{ path: '/etc/shoal-pwned', content: 'x' }]],
      ['a hard link out of the root', [{ path: 'h', type: 'hardlink' as const, linkpath: '../outside/target' }]],
      ['a whiteout of the parent', [dir('a'), { path: 'a/.wh..', content: '' }]],
    ])('%s', async (_name, entries) => {
      await expect(unpack(root, tarArchive(entries))).rejects.toThrow(UnsafePathError);
      expect(await readFile(join(outside, 'target'), 'utf8')).toBe('untouched');
      await expect(lstat(join(outside, 'pwned'))).rejects.toThrow(/ENOENT/);
      await expect(lstat('/etc/shoal-pwned')).rejects.toThrow(/ENOENT/);
    });

    it('resolves symlinks from the archive inside the root and never writes through one', async () => {
      await unpack(
        root,
        tarArchive([
          { path: 'abs', type: 'symlink', linkpath: outside },
          { path: 'abs/pwned', content: 'absolute' },
          { path: 'rel', type: 'symlink', linkpath: '../../../../../../..' + outside },
          { path: 'rel/pwned-too', content: 'relative' },
          { path: 'file', type: 'symlink', linkpath: join(outside, 'target') },
          { path: 'file', content: 'replaced the link' },
          { path: 'loop', type: 'symlink', linkpath: 'loop' },
        ]),
      );
      expect(await readFile(join(root, outside, 'pwned'), 'utf8')).toBe('absolute');
      expect(await readFile(join(root, outside, 'pwned-too'), 'utf8')).toBe('relative');
      expect(await readFile(join(root, 'file'), 'utf8')).toBe('replaced the link');
      expect(await readFile(join(outside, 'target'), 'utf8')).toBe('untouched');
      await expect(lstat(join(outside, 'pwned'))).rejects.toThrow(/ENOENT/);
      await expect(unpack(root, tarArchive([{ path: 'loop/x', content: 'x' }]))).rejects.toThrow(/too many levels/);
      await expect(unpack(root, tarArchive([{ path: 'h', type: 'hardlink', linkpath: 'abs/target' }]))).rejects.toThrow(/does not exist/);
    });
  });
});
