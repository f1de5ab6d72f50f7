import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTar } from './tar-reader.js';
import { tarArchive } from './testing/tar-writer.js';

async function entriesOf(archive: Buffer, chunkSize = 100) {
  const parts: Buffer[] = [];
  for (let at = 0; at < archive.length; at += chunkSize) parts.push(archive.subarray(at, at + chunkSize));
  const out = [];
  for await (const entry of readTar(Readable.from(parts))) {
    const body: Buffer[] = [];
    for await (const chunk of entry.body) body.push(chunk);
    out.push({ ...entry, content: Buffer.concat(body).toString() });
  }
  return out;
}

describe('readTar', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-tar-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const longDir = 'd'.repeat(80) + '/' + 'e'.repeat(80);

  it('reads GNU and PAX archives made by the system tar, long names included', async () => {
    const src = join(dir, 'src');
    await mkdir(join(src, longDir), { recursive: true });
    await writeFile(join(src, longDir, 'f'.repeat(120)), 'deep');
    await symlink('t'.repeat(150), join(src, 'link'));
    for (const format of ['gnu', 'pax']) {
      const archive = execFileSync('tar', [`--format=${format}`, '-C', src, '-cf', '-', '.']);
      const entries = await entriesOf(archive, 777);
      const file = entries.find((e) => e.path.endsWith('f'.repeat(120)));
      expect(file?.path).toBe(`./${longDir}/${'f'.repeat(120)}`);
      expect(file?.content).toBe('deep');
      expect(file?.type).toBe('file');
      const link = entries.find((e) => e.path === './link');
      expect(link?.type).toBe('symlink');
      expect(link?.linkpath).toBe('t'.repeat(150));
    }
  });

  it('reads PAX overrides, global headers, xattrs and GNU long link names from its own writer', async () => {
    const archive = tarArchive(
      [
        { path: 'a/' + 'x'.repeat(150), content: 'long pax', longNames: 'pax', pax: { uid: '100000', gid: '200000', mtime: '1700000000.5' } },
        { path: 'b', type: 'symlink', linkpath: 'y'.repeat(200) },
        { path: 'c', content: 'caps', pax: { 'SCHILY.xattr.security.capability': 'raw' } },
        { path: 'dev', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      ],
      { uid: '7' },
    );
    const [a, b, c, dev] = await entriesOf(archive, 13);
    expect(a).toMatchObject({ path: 'a/' + 'x'.repeat(150), content: 'long pax', uid: 100000, gid: 200000, mtime: 1700000000.5 });
    expect(b).toMatchObject({ path: 'b', type: 'symlink', linkpath: 'y'.repeat(200), uid: 7 });
    expect(c.xattrs.get('security.capability')?.toString()).toBe('raw');
    expect(dev).toMatchObject({ type: 'char', devmajor: 1, devminor: 3, mode: 0o666 });
  });

  it('skips bodies the caller does not read', async () => {
    const archive = tarArchive([
      { path: 'one', content: 'x'.repeat(1500) },
      { path: 'two', content: 'second' },
    ]);
    const paths = [];
    for await (const entry of readTar(Readable.from([archive]))) paths.push(entry.path);
    expect(paths).toEqual(['one', 'two']);
  });

  it('refuses a corrupt header and a truncated archive', async () => {
    const archive = tarArchive([{ path: 'one', content: 'body' }]);
    const corrupt = Buffer.from(archive);
    corrupt[0] ^= 1;
    await expect(entriesOf(corrupt)).rejects.toThrow(/checksum/);
    await expect(entriesOf(archive.subarray(0, 600))).rejects.toThrow(/truncated/);
  });
});
