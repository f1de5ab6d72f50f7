/**
 * The node's content-addressed blob store: every manifest, config and layer blob lives at
 * `<stateDir>/blobs/sha256/<hex>`, named by the digest of its bytes.
 *
 * A write streams into a private file under `blobs/ingest/`, hashing and counting as it goes; only
 * when the size and digest match is it fsynced and renamed into place (and the directory fsynced),
 * so a blob that is present is always whole and correct, a crash leaves at most an ingest file, and
 * a mismatch leaves nothing behind. Concurrent writes of the same digest each use their own ingest
 * file; the last rename wins with identical bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobWriter } from './types.js';

/** A blob's bytes did not match the size or digest it was written under. */
export class BlobVerificationError extends Error {
  constructor(
    readonly digest: string,
    detail: string,
  ) {
    super(`blob ${digest} failed verification: ${detail}`);
    this.name = 'BlobVerificationError';
  }
}

const SHA256 = /^sha256:([a-f0-9]{64})$/;

/** The hex part of a sha256 digest; anything else is refused before it can name a path. */
function hexOf(digest: string): string {
  const match = SHA256.exec(digest);
  if (match === null) throw new Error(`unsupported or malformed digest: ${JSON.stringify(digest)}`);
  return match[1];
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

export class ContentStore implements BlobWriter {
  private readonly blobDir: string;
  private readonly ingestDir: string;

  constructor(stateDir: string) {
    this.blobDir = join(stateDir, 'blobs', 'sha256');
    this.ingestDir = join(stateDir, 'blobs', 'ingest');
  }

  /** The file holding a blob (for readers that want the path, e.g. to hand to another process). */
  path(digest: string): string {
    return join(this.blobDir, hexOf(digest));
  }

  async has(digest: string): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  /** The blob's size in bytes, or undefined if it is not stored. */
  async size(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Streams a stored blob; throws ENOENT (as an error event) if it is absent. */
  open(digest: string): ReadStream {
    return createReadStream(this.path(digest));
  }

  async write(digest: string, size: number, data: NodeJS.ReadableStream): Promise<void> {
    const hex = hexOf(digest);
    await mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
    await mkdir(this.blobDir, { recursive: true, mode: 0o755 });
    const ingest = join(this.ingestDir, `${hex}.${randomBytes(6).toString('hex')}`);
    const file = await open(ingest, 'wx', 0o644);
    let renamed = false;
    try {
      const hash = createHash('sha256');
      let written = 0;
      for await (const chunk of data) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        written += bytes.length;
        // Stop a runaway stream early instead of filling the disk.
        if (written > size) throw new BlobVerificationError(digest, `more than the expected ${size} bytes`);
        hash.update(bytes);
        await file.write(bytes);
      }
      if (written !== size) throw new BlobVerificationError(digest, `got ${written} bytes, expected ${size}`);
      const actual = hash.digest('hex');
      if (actual !== hex) throw new BlobVerificationError(digest, `content has digest sha256:${actual}`);
      await file.sync();
      await file.close();
      await rename(ingest, this.path(digest));
      renamed = true;
      await syncDir(this.blobDir);
    } finally {
      if (!renamed) {
        await file.close().catch(() => undefined);
        await rm(ingest, { force: true });
      }
    }
  }

  /** Removes a blob; removing one that is absent is not an error. */
  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Every stored blob's digest, in no particular order. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.blobDir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return names.filter((name) => /^[a-f0-9]{64}$/.test(name)).map((hex) => `sha256:${hex}`);
  }

  /** Drops ingest files a crash left behind; call only when no write can be running. */
  async removeIngests(): Promise<void> {
    await rm(this.ingestDir, { recursive: true, force: true });
  }
}

/** Makes a directory's entries (a rename into it) durable. */
export async function syncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
