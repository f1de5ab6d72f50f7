/**
 * Content digests (image-spec descriptor.md): only sha256 is accepted, everything fetched is hashed
 * and compared before it is trusted.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError, UnsupportedDigestError } from './errors.js';

const SHA256 = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Returns the digest when it is a well-formed sha256 digest; refuses any other algorithm by name. */
export function checkDigest(digest: string): string {
  if (SHA256.test(digest)) return digest;
  if (ANY_DIGEST.test(digest) && !digest.startsWith('sha256:')) {
    throw new UnsupportedDigestError(`unsupported digest algorithm in ${digest} (only sha256 is supported)`);
  }
  throw new UnsupportedDigestError(`malformed digest: ${JSON.stringify(digest)}`);
}

export function sha256Of(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function verifyBuffer(data: Buffer, expected: string, what: string): void {
  const actual = sha256Of(data);
  if (actual !== expected) throw new DigestMismatchError(expected, actual, what);
}

/**
 * A pass-through that hashes and counts what flows; at the end it fails instead of finishing when
 * the bytes do not match, so that a consumer never sees a clean end of wrong content.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;

  constructor(
    private readonly expected: string,
    private readonly size: number,
    private readonly onBytes: (done: number) => void = () => {},
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.size) {
      callback(new DigestMismatchError(this.expected, `more than ${this.size} bytes`, `blob ${this.expected}`));
      return;
    }
    this.hash.update(chunk);
    this.onBytes(this.count);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (this.count !== this.size) {
      callback(new DigestMismatchError(this.expected, `${this.count} of ${this.size} bytes`, `blob ${this.expected}`));
    } else if (actual !== this.expected) {
      callback(new DigestMismatchError(this.expected, actual, `blob ${this.expected}`));
    } else {
      callback();
    }
  }
}
