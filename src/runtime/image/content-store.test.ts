import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobVerificationError, ContentStore } from './content-store.js';

const digestOf = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const chunks = (data: Buffer) => Readable.from([data.subarray(0, 3), data.subarray(3)]);

describe('ContentStore', () => {
  let dir: string;
  let store: ContentStore;
  const blob = Buffer.from('hello, layer bytes');
  const digest = digestOf(blob);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-cs-'));
    store = new ContentStore(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a verified blob under blobs/sha256/<hex> and reads it back', async () => {
    expect(await store.has(digest)).toBe(false);
    await store.write(digest, blob.length, chunks(blob));
    expect(await store.has(digest)).toBe(true);
    expect(await store.size(digest)).toBe(blob.length);
    expect(await readFile(join(dir, 'blobs', 'sha256', digest.slice(7)))).toEqual(blob);
    const read: Buffer[] = [];
    for await (const chunk of store.open(digest)) read.push(chunk as Buffer);
    expect(Buffer.concat(read)).toEqual(blob);
    expect(await store.list()).toEqual([digest]);
    expect(await readdir(join(dir, 'blobs', 'ingest'))).toEqual([]);
  });

  it('refuses a digest mismatch and leaves nothing behind', async () => {
    const wrong = digestOf(Buffer.from('something else'));
    const write = store.write(wrong, blob.length, chunks(blob));
    await expect(write).rejects.toThrow(BlobVerificationError);
    await expect(store.write(wrong, blob.length, chunks(blob))).rejects.toThrow(/failed verification: content has digest/);
    expect(await store.has(wrong)).toBe(false);
    expect(await store.list()).toEqual([]);
    expect(await readdir(join(dir, 'blobs', 'ingest'))).toEqual([]);
  });

  it('refuses a size mismatch either way, stopping a stream that runs long', async () => {
    await expect(store.write(digest, blob.length + 1, chunks(blob))).rejects.toThrow(/got 18 bytes, expected 19/);
    await expect(store.write(digest, 2, chunks(blob))).rejects.toThrow(/more than the expected 2 bytes/);
    expect(await store.has(digest)).toBe(false);
    expect(await readdir(join(dir, 'blobs', 'ingest'))).toEqual([]);
  });

  it('cleans up when the source stream fails', async () => {
    const failing = new Readable({
      read() {
        this.push(blob.subarray(0, 4));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(store.write(digest, blob.length, failing)).rejects.toThrow('connection reset');
    expect(await store.has(digest)).toBe(false);
    expect(await readdir(join(dir, 'blobs', 'ingest'))).toEqual([]);
  });

  it('deletes blobs, rewrites are harmless, and malformed digests never reach the disk', async () => {
    await store.write(digest, blob.length, chunks(blob));
    await store.write(digest, blob.length, chunks(blob));
    expect(await store.list()).toEqual([digest]);
    await store.delete(digest);
    await store.delete(digest);
    expect(await store.has(digest)).toBe(false);
    await expect(store.has('sha256:../../etc/passwd')).rejects.toThrow(/malformed digest/);
    await expect(store.has('sha512:' + 'a'.repeat(128))).rejects.toThrow(/unsupported or malformed/);
  });
});
