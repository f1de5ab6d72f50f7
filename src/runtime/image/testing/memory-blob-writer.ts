/**
 * A fake `BlobWriter` for tests: keeps blobs in memory and, like a real store, commits one only
 * when its stream ends cleanly.
 */
import type { Readable } from 'node:stream';
import type { BlobWriter } from '../types.js';

export class FakeMemoryBlobWriter implements BlobWriter {
  readonly blobs = new Map<string, Buffer>();
  /** Every write attempt, committed or not, in order. */
  readonly attempts: string[] = [];

  async has(digest: string): Promise<boolean> {
    return this.blobs.has(digest);
  }

  async write(digest: string, _size: number, stream: Readable): Promise<void> {
    this.attempts.push(digest);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    this.blobs.set(digest, Buffer.concat(chunks));
  }
}
