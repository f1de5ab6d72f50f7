/**
 * readRootFiles on fixture trees in a temporary directory: a plain root, and overlay layers with
 * whiteouts (0/0 character devices, made with mknod) and opaque directories (setfattr), as the
 * image store unpacks them. Needs root, for the device nodes and trusted.* attributes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRootFiles, type RootView } from './root-file.js';

let work: string;
let count = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-root-file-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A fixture tree: a path ending in '/' is a directory, else a file with that text, a symlink, a whiteout or a fifo; 'opaque' marks a directory. */
type Tree = Record<string, string | { link: string } | 'whiteout' | 'opaque' | 'fifo'>;

function makeTree(tree: Tree): string {
  const dir = join(work, `tree-${++count}`);
  mkdirSync(dir);
  for (const [path, what] of Object.entries(tree)) {
    const full = join(dir, path);
    mkdirSync(path.endsWith('/') ? full : dirname(full), { recursive: true });
    if (typeof what === 'object') symlinkSync(what.link, full);
    else if (what === 'whiteout') execFileSync('mknod', [full, 'c', '0', '0']);
    else if (what === 'opaque') execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', full]);
    else if (what === 'fifo') execFileSync('mkfifo', [full]);
    else if (!path.endsWith('/')) writeFileSync(full, what);
  }
  return dir;
}

/** An overlay view of `layers`, top first; the first is the upper directory. */
function overlay(...layers: Tree[]): RootView {
  const [upper, ...lower] = layers.map(makeTree);
  return { rootfs: join(work, 'unused'), overlay: { upper: upper!, lower, work: join(work, 'unused-work') } };
}

const read = async (root: RootView, path: string): Promise<string | undefined> => (await readRootFiles(root, [path]))[0];

describe('readRootFiles', () => {
  it('reads files of a plain root, and undefined for a missing one or a directory', async () => {
    const root: RootView = { rootfs: makeTree({ 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'etc/group': 'root:x:0:\n' }) };
    expect(await readRootFiles(root, ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc'])).toEqual(['root:x:0:0::/root:/bin/sh\n', 'root:x:0:\n', undefined, undefined]);
    expect(await read({ rootfs: join(work, 'no-such-root') }, '/etc/passwd')).toBeUndefined();
  });

  it('takes a file from the topmost layer that has it, the upper directory first', async () => {
    const root = overlay({ 'etc/group': 'upper\n' }, { 'etc/passwd': 'top\n', 'etc/group': 'top\n' }, { 'etc/passwd': 'bottom\n', 'etc/hosts': 'bottom\n' });
    expect(await readRootFiles(root, ['/etc/passwd', '/etc/group', '/etc/hosts'])).toEqual(['top\n', 'upper\n', 'bottom\n']);
  });

  it('works before the upper directory exists', async () => {
    const root: RootView = { rootfs: join(work, 'unused'), overlay: { upper: join(work, 'not-made-yet'), lower: [makeTree({ 'etc/passwd': 'lower\n' })], work: join(work, 'w') } };
    expect(await read(root, '/etc/passwd')).toBe('lower\n');
  });

  it('treats a whiteout as no file, hiding those of the layers below', async () => {
    const root = overlay({}, { 'etc/passwd': 'whiteout' }, { 'etc/passwd': 'bottom\n' });
    expect(await read(root, '/etc/passwd')).toBeUndefined();
    // A whiteout of the directory, or a file in its place, hides all below it too.
    expect(await read(overlay({ etc: 'whiteout' }, { 'etc/passwd': 'bottom\n' }), '/etc/passwd')).toBeUndefined();
    expect(await read(overlay({ etc: 'a file\n' }, { 'etc/passwd': 'bottom\n' }), '/etc/passwd')).toBeUndefined();
  });

  it('does not look below an opaque directory, at its level or at a level above', async () => {
    expect(await read(overlay({}, { 'etc/': 'opaque', 'etc/hosts': 'top\n' }, { 'etc/passwd': 'bottom\n' }), '/etc/passwd')).toBeUndefined();
    expect(await read(overlay({}, { 'usr/': 'opaque', 'usr/etc/hosts': 'top\n' }, { 'usr/etc/passwd': 'bottom\n' }), '/usr/etc/passwd')).toBeUndefined();
    // Below a directory that is not opaque, the merge goes on; above an opaque one it was not needed.
    expect(await read(overlay({}, { 'etc/hosts': 'top\n' }, { 'etc/': 'opaque', 'etc/passwd': 'bottom\n' }), '/etc/passwd')).toBe('bottom\n');
    expect(await read(overlay({ 'etc/': 'opaque', 'etc/passwd': 'upper\n' }, { 'etc/passwd': 'bottom\n' }), '/etc/passwd')).toBe('upper\n');
  });

  it('follows symlinks inside the root only, across layers', async () => {
    const outside = makeTree({ passwd: 'the host\n' });
    const root = overlay(
      { 'etc/passwd': { link: '../shared/passwd' } },
      { 'shared/passwd': 'shared\n', 'etc/group': { link: '/shared/../../../../shared/passwd' }, 'etc/host-file': { link: `${outside}/passwd` } },
    );
    expect(await readRootFiles(root, ['/etc/passwd', '/etc/group', '/etc/host-file'])).toEqual(['shared\n', 'shared\n', undefined]);
  });

  it('refuses a loop of symlinks, and reads no fifo', async () => {
    const root: RootView = { rootfs: makeTree({ 'etc/passwd': { link: '/etc/group' }, 'etc/group': { link: 'passwd' }, 'etc/fifo': 'fifo' }) };
    await expect(read(root, '/etc/passwd')).rejects.toThrow('/etc/passwd in the container\'s root: too many levels of symbolic links');
    expect(await read(root, '/etc/fifo')).toBeUndefined();
  });
});
