/**
 * The durable StableStore (current term and vote): one small file holding a CRC32 and the JSON of
 * every key, rewritten atomically on each set(). The file is expected to be alone in its directory
 * with its own temporary file, so no other component's directory fsync publishes it early.
 */
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import type { PlantedBugs } from '../types.js';
import { writeFileAtomically } from './atomic-file.js';
import { ChecksumError } from './errors.js';
import { realFs } from './fs-real.js';
import type { Fs, StableStore } from './types.js';

export interface FileStableStoreOptions {
  dir: string;
  fs?: Fs;
  bugs?: PlantedBugs;
}

const FILE_NAME = 'stable';
const CRC_BYTES = 4;

export class FileStableStore implements StableStore {
  private readonly fs: Fs;
  private readonly file: string;
  private readonly bugs: PlantedBugs;
  private values: Record<string, string>;

  constructor(opts: FileStableStoreOptions) {
    this.fs = opts.fs ?? realFs;
    this.bugs = opts.bugs ?? {};
    this.fs.mkdirp(opts.dir);
    this.file = path.join(opts.dir, FILE_NAME);
    this.values = this.fs.exists(this.file) ? decode(this.file, this.fs.readFile(this.file)) : {};
  }

  get(key: string): string | undefined {
    return Object.hasOwn(this.values, key) ? this.values[key] : undefined;
  }

  set(values: Record<string, string>): void {
    const next = { ...this.values, ...values };
    const skipAllSyncs = this.bugs.voteNotFsynced === true;
    writeFileAtomically(this.fs, this.file, encode(next), {
      fdatasync: !skipAllSyncs,
      fsyncDir: !skipAllSyncs && !this.bugs.noDirectoryFsync,
    });
    this.values = next;
  }

  close(): void {
    // Every set() completes its own I/O; there is nothing held open.
  }
}

function encode(values: Record<string, string>): Uint8Array {
  const json = Buffer.from(JSON.stringify(values));
  const out = Buffer.allocUnsafe(CRC_BYTES + json.length);
  out.writeUInt32LE(crc32(json), 0);
  out.set(json, CRC_BYTES);
  return out;
}

function decode(file: string, bytes: Uint8Array): Record<string, string> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < CRC_BYTES) throw new ChecksumError(file, `only ${buf.length} bytes`);
  const json = buf.subarray(CRC_BYTES);
  if (crc32(json) !== buf.readUInt32LE(0)) throw new ChecksumError(file, 'checksum mismatch');
  const parsed: unknown = JSON.parse(json.toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw new ChecksumError(file, 'content is not a map of strings');
  }
  return parsed as Record<string, string>;
}
