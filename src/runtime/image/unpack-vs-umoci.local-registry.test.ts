/**
 * Layer unpacking checked against umoci, an independent implementation of the OCI image spec: the
 * same image, pulled from a real registry (Debian's docker-registry on loopback), unpacked by us
 * and by `umoci unpack` (as root, not rootless, from an OCI layout that skopeo copied from the
 * registry), must give the same tree: paths, types, modes, owners, times, sizes, contents, symlink
 * targets, device numbers, hard links and extended attributes. Checked for our flattened unpack and
 * for what a container sees: an overlayfs mount of the store's per-layer directories. The root
 * directory itself is left out: umoci gives it the layer's `./` entry, while we, like docker and
 * podman, keep the root we made (apply-layer.ts).
 *
 * Images: the busybox base image, and a three-layer image on top of its layer built here with the
 * test tar writer (whiteouts, opaque directories, devices, hard links, xattrs, replaced entries)
 * and pushed to the registry like any other.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from './image-store.js';
import { OCI_CONFIG, OCI_MANIFEST } from './media-types.js';
import { RegistryClient } from './registry-client.js';
import { LocalRegistry } from './testing/local-registry.js';
import { pushBlob, pushManifest } from './testing/push.js';
import type { ImageManifest } from './types.js';
import { tarArchive, type TestEntry } from './unpack/testing/tar-writer.js';
import { inventory, type Facts } from './unpack/testing/tree.js';
import { unpackLayer } from './unpack/unpack-layer.js';

const run = promisify(execFile);
const client = new RegistryClient({ retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
const GZIP_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
let registry: LocalRegistry;
let work: string;
let store: ImageStore;

const dir = (path: string, extra: Partial<TestEntry> = {}): TestEntry => ({ path, type: 'dir', mode: 0o755, mtime: 1_650_000_000, ...extra });
const file = (path: string, content: string, extra: Partial<TestEntry> = {}): TestEntry => ({ path, content, mode: 0o644, mtime: 1_650_000_100, ...extra });
const whiteout = (path: string): TestEntry => ({ path, content: '' });
// A file capability (VFS_CAP_REVISION_2, effective, CAP_NET_BIND_SERVICE permitted): it only
// survives if it is set after the owner, since chown clears it.
const NET_BIND_CAP = `\x01\x00\x00\x02\x00\x04\x00\x00${'\x00'.repeat(12)}`;

/** The second layer: adds every kind of entry, with metadata of every sort. */
const ADDITIONS: TestEntry[] = [
  dir('dev'),
  { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666, mtime: 1_650_000_000 },
  { path: 'dev/loop9', type: 'block', devmajor: 7, devminor: 9, mode: 0o660, gid: 6, mtime: 1_650_000_000 },
  dir('etc'),
  file('etc/motd', 'welcome\n'),
  dir('opt'),
  dir('opt/app', { mode: 0o2775, gid: 50 }),
  file('opt/app/run.sh', '#!/bin/sh\necho run\n', { mode: 0o755 }),
  dir('opt/app/lib'),
  file('opt/app/lib/libx.so', 'x'.repeat(5000)),
  dir('run'),
  { path: 'run/fifo', type: 'fifo', mode: 0o620, mtime: 1_650_000_000 },
  dir('scratch', { mode: 0o1777 }),
  dir('srv', { pax: { 'SCHILY.xattr.user.shoal.dir': 'layer two' } }),
  file('srv/data', 'data\n', { mode: 0o640, uid: 1000, gid: 1000 }),
  file('srv/noted', 'noted\n', { uid: 1000, pax: { 'SCHILY.xattr.user.shoal.note': 'hello', 'SCHILY.xattr.trusted.shoal.t': 'x' } }),
  file('srv/empty', ''),
  file('srv/hard1', 'linked\n'),
  { path: 'srv/hard2', type: 'hardlink', linkpath: 'srv/hard1' },
  { path: 'srv/abs', type: 'symlink', linkpath: '/bin/busybox', mtime: 1_650_000_000 },
  { path: 'srv/rel', type: 'symlink', linkpath: '../bin/busybox', mtime: 1_650_000_000 },
  { path: 'srv/dangling', type: 'symlink', linkpath: '/nowhere', mtime: 1_650_000_000 },
  dir('srv/sub', { uid: 1000, gid: 1000, mode: 0o700 }),
  file('srv/sub/deep', 'deep\n'),
  dir('srv/long'),
  file(`srv/long/${'n'.repeat(140)}`, 'long name\n', { longNames: 'pax' }),
  file('tobe-dir', 'a file for now\n'),
  dir('tobe-file'),
  file('tobe-file/child', 'child\n'),
  dir('usr'),
  dir('usr/local'),
  dir('usr/local/bin'),
  file('usr/local/bin/capped', 'capped\n', { mode: 0o755, pax: { 'SCHILY.xattr.security.capability': NET_BIND_CAP } }),
  file('usr/local/bin/suid', 'suid\n', { mode: 0o4755 }),
  file('usr/local/bin/sgid', 'sgid\n', { mode: 0o2711, gid: 50 }),
];

/** The third layer: whiteouts, opaque directories, replacements, and changed metadata. */
const REMOVALS: TestEntry[] = [
  whiteout('.wh.nothing-here'),
  dir('bin'),
  whiteout('bin/.wh.vi'),
  dir('etc'),
  whiteout('etc/.wh.hostname'),
  file('etc/motd', 'changed\n', { mode: 0o600 }),
  dir('opt'),
  dir('opt/app', { mode: 0o2775, gid: 50 }),
  whiteout('opt/app/.wh..wh..opq'),
  file('opt/app/new', 'fresh\n'),
  dir('srv', { mode: 0o750, uid: 1000 }),
  whiteout('srv/.wh.data'),
  whiteout('srv/.wh.dangling'),
  dir('srv/sub', { uid: 1000, gid: 1000, mode: 0o700 }),
  whiteout('srv/sub/.wh.deep'),
  dir('tobe-dir', { mode: 0o711 }),
  file('tobe-dir/inside', 'inside\n'),
  file('tobe-file', 'a file now\n'),
  dir('usr'),
  dir('usr/local'),
  dir('usr/local/bin'),
  file('usr/local/bin/a', 'same inode\n'),
  { path: 'usr/local/bin/b', type: 'hardlink', linkpath: 'usr/local/bin/a' },
  dir('var'),
  whiteout('var/.wh..wh..opq'),
  dir('var/lib'),
  file('var/lib/state', 'state\n'),
];

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Pushes busybox:1.0-layered: the base image's layer, then ADDITIONS, then REMOVALS. */
async function pushLayeredImage(): Promise<void> {
  const fetchJson = async (path: string, accept: string) =>
    (await (await fetch(`http://${registry.host}/v2/busybox/${path}`, { headers: { accept } })).json()) as Record<string, unknown>;
  const base = (await fetchJson('manifests/1.0', OCI_MANIFEST)) as unknown as ImageManifest;
  const config = (await fetchJson(`blobs/${base.config.digest}`, OCI_CONFIG)) as { rootfs: { diff_ids: string[] } };
  const layers = [...base.layers];
  for (const entries of [ADDITIONS, REMOVALS]) {
    const tar = tarArchive(entries);
    const gz = gzipSync(tar);
    layers.push({ mediaType: GZIP_LAYER, digest: await pushBlob(registry.host, 'busybox', gz), size: gz.length });
    config.rootfs.diff_ids.push(sha256(tar));
  }
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await pushBlob(registry.host, 'busybox', configBytes);
  const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: configDigest, size: configBytes.length }, layers };
  await pushManifest(registry.host, 'busybox', manifest, OCI_MANIFEST, '1.0-layered');
}

beforeAll(async () => {
  registry = await LocalRegistry.start();
  await registry.pushBaseImage('1.0');
  await pushLayeredImage();
  work = await mkdtemp(join(tmpdir(), 'shoal-umoci-'));
  store = new ImageStore(join(work, 'state'), { client });
});
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** umoci's unpack of busybox:TAG, from an OCI layout skopeo copied out of the registry. */
async function umociRootfs(tag: string): Promise<string> {
  const policy = join(work, 'policy.json');
  await writeFile(policy, '{"default": [{"type": "insecureAcceptAnything"}]}');
  const layout = join(work, `layout-${tag}`);
  await run('skopeo', ['--policy', policy, 'copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/busybox:${tag}`, `oci:${layout}:${tag}`]);
  const bundle = join(work, `umoci-${tag}`);
  await run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  return join(bundle, 'rootfs');
}

/** Our flattened unpack of the image's layer blobs, bottom first, into one directory. */
async function flattened(tag: string): Promise<string> {
  const image = await store.pull(`${registry.host}/busybox:${tag}`);
  const manifest = JSON.parse(await readFile(store.blobs.path(image.manifestDigest), 'utf8')) as ImageManifest;
  const config = JSON.parse(await readFile(store.blobs.path(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
  const root = join(work, `ours-${tag}`);
  await mkdir(root);
  for (const [i, layer] of manifest.layers.entries()) {
    await unpackLayer({ source: createReadStream(store.blobs.path(layer.digest)), mediaType: layer.mediaType, target: root, mode: 'flatten', diffId: config.rootfs.diff_ids[i] });
  }
  return root;
}

/** The store's layer directories for the image, mounted as a container's overlayfs root would be. */
async function withOverlay<T>(tag: string, fn: (root: string) => Promise<T>): Promise<T> {
  const image = await store.get(`${registry.host}/busybox:${tag}`);
  const [merged, upper, scratch] = ['merged', 'upper', 'work'].map((d) => join(work, `overlay-${tag}`, d)) as [string, string, string];
  for (const d of [merged, upper, scratch]) await mkdir(d, { recursive: true });
  const lower = [...image.layerDirs].reverse().join(':');
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${scratch}`, merged]);
  try {
    return await fn(merged);
  } finally {
    await run('umount', [merged]);
  }
}

describe('layer unpacking matches umoci unpack', () => {
  it('the busybox base image: flattened and as an overlay', async () => {
    const theirs = await inventory(await umociRootfs('1.0'));
    expect(theirs['bin/busybox']).toMatchObject({ kind: 'file', mode: 0o755 });
    expect(theirs['bin/sh']).toMatchObject({ kind: 'symlink', target: '/bin/busybox' });
    expect(theirs.tmp).toMatchObject({ kind: 'dir', mode: 0o1777 });
    expect(Object.keys(theirs).length).toBeGreaterThan(250);

    expect(await inventory(await flattened('1.0'))).toEqual(theirs);
    expect(await withOverlay('1.0', inventory)).toEqual(theirs);
  });

  it('a three-layer image with whiteouts, opaque directories, devices, hard links and xattrs: flattened and as an overlay', async () => {
    const theirs = await inventory(await umociRootfs('1.0-layered'));
    // The comparison is only as good as what the image exercises: check that umoci saw it all.
    const expected: Record<string, Partial<Facts> | undefined> = {
      'etc/hostname': undefined,
      'bin/vi': undefined,
      'srv/data': undefined,
      'srv/dangling': undefined,
      'srv/sub/deep': undefined,
      'opt/app/run.sh': undefined,
      'opt/app/lib': undefined,
      'var/log': undefined,
      'bin/sh': { kind: 'symlink' },
      'etc/passwd': { kind: 'file' },
      'etc/motd': { kind: 'file', mode: 0o600, size: 8 },
      'opt/app/new': { kind: 'file' },
      'var/lib/state': { kind: 'file' },
      srv: { kind: 'dir', mode: 0o750, uid: 1000 },
      'srv/hard2': { sameInodeAs: 'srv/hard1' },
      'usr/local/bin/b': { sameInodeAs: 'usr/local/bin/a' },
      'dev/null': { kind: 'char', rdev: (1 << 8) | 3 },
      'dev/loop9': { kind: 'block', rdev: (7 << 8) | 9, gid: 6 },
      'run/fifo': { kind: 'fifo', mode: 0o620 },
      scratch: { mode: 0o1777 },
      'usr/local/bin/suid': { mode: 0o4755 },
      'usr/local/bin/sgid': { mode: 0o2711, gid: 50 },
      'srv/noted': { xattrs: { 'trusted.shoal.t': '0x78', 'user.shoal.note': '0x68656c6c6f' } },
      'usr/local/bin/capped': { xattrs: { 'security.capability': `0x${Buffer.from(NET_BIND_CAP, 'latin1').toString('hex')}` } },
      'tobe-dir': { kind: 'dir', mode: 0o711 },
      'tobe-dir/inside': { kind: 'file' },
      'tobe-file': { kind: 'file' },
      [`srv/long/${'n'.repeat(140)}`]: { kind: 'file' },
    };
    for (const [path, facts] of Object.entries(expected)) {
      if (facts === undefined) expect(theirs[path], path).toBeUndefined();
      else expect(theirs[path], path).toMatchObject(facts);
    }
    // The third layer lists srv without the xattr the second gave it: the directory loses it.
    expect(theirs.srv?.xattrs).toBeUndefined();

    expect(await inventory(await flattened('1.0-layered'))).toEqual(theirs);
    expect(await withOverlay('1.0-layered', inventory)).toEqual(theirs);
  });
});
