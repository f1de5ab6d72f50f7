/**
 * The durable SnapshotStore: each snapshot is one file named by its term and index, written under a
 * temporary name, fdatasync'd, renamed into place and published with a directory fsync. Its layout:
 *
 *   magic "SHOALSNP" | meta length (u32 LE) | meta CRC32 | data CRC32 | data length (u64 LE) | meta JSON | data
 *
 * Files whose framing or checksums do not verify are never listed, so a damaged newest snapshot
 * leaves the previous one (the store keeps `retain`, default 2) to recover from.
 */
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import type { PlantedBugs, SnapshotMeta } from '../types.js';
import { TEMP_SUFFIX, writeFileAtomically } from './atomic-file.js';
import { ChecksumError } from './errors.js';
import { realFs } from './fs-real.js';
import type { Fs, SnapshotStore } from './types.js';

export interface FileSnapshotStoreOptions {
  dir: string;
  fs?: Fs;
  /** How many of the newest snapshots to keep. Default 2. */
  retain?: number;
  bugs?: PlantedBugs;
}

const MAGIC = Buffer.from('SHOALSNP');
const HEADER_BYTES = MAGIC.length + 4 + 4 + 4 + 8;
const SNAPSHOT_NAME = /^snapshot-(\d+)-(\d+)\.snap$/;

interface StoredName {
  term: number;
  index: number;
  file: string;
}

export class FileSnapshotStore implements SnapshotStore {
  private readonly dir: string;
  private readonly fs: Fs;
  private readonly retain: number;
  private readonly bugs: PlantedBugs;

  constructor(opts: FileSnapshotStoreOptions) {
    this.dir = opts.dir;
    this.fs = opts.fs ?? realFs;
    this.retain = opts.retain ?? 2;
    this.bugs = opts.bugs ?? {};
    if (this.retain < 1) throw new RangeError(`retain must be at least 1, got ${this.retain}`);
    this.fs.mkdirp(this.dir);
  }

  create(meta: SnapshotMeta, data: Uint8Array): void {
    writeFileAtomically(this.fs, this.fileFor(meta.index, meta.term), encode(meta, data), {
      fdatasync: true,
      fsyncDir: !this.bugs.noDirectoryFsync,
    });
    this.removeStale();
  }

  list(): SnapshotMeta[] {
    const metas: SnapshotMeta[] = [];
    for (const stored of this.storedNames()) {
      try {
        metas.push(this.read(stored.file, stored).meta);
      } catch (err) {
        if (!(err instanceof ChecksumError)) throw err;
      }
    }
    return metas;
  }

  open(index: number, term: number): { meta: SnapshotMeta; data: Uint8Array } {
    const file = this.fileFor(index, term);
    if (!this.fs.exists(file)) throw new Error(`no snapshot at index ${index} term ${term} in ${this.dir}`);
    return this.read(file, { index, term, file });
  }

  private read(file: string, expected: StoredName): { meta: SnapshotMeta; data: Uint8Array } {
    const snapshot = decode(file, this.fs.readFile(file));
    if (snapshot.meta.index !== expected.index || snapshot.meta.term !== expected.term) {
      throw new ChecksumError(file, `holds index ${snapshot.meta.index} term ${snapshot.meta.term}, not what its name says`);
    }
    return snapshot;
  }

  /** Keeps the newest `retain` snapshot files; removes older ones and temporary files left by crashes. */
  private removeStale(): void {
    const stale = this.storedNames()
      .slice(this.retain)
      .map((s) => s.file);
    for (const name of this.fs.readdir(this.dir)) {
      if (name.endsWith(TEMP_SUFFIX) && SNAPSHOT_NAME.test(name.slice(0, -TEMP_SUFFIX.length))) {
        stale.push(path.join(this.dir, name));
      }
    }
    for (const file of stale) this.fs.unlink(file);
    // Removals need no fsync: an old snapshot that reappears after a crash is only extra.
  }

  /** Snapshot files by name, newest first. */
  private storedNames(): StoredName[] {
    const stored: StoredName[] = [];
    for (const name of this.fs.readdir(this.dir)) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match !== null) stored.push({ term: Number(match[1]), index: Number(match[2]), file: path.join(this.dir, name) });
    }
    return stored.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  private fileFor(index: number, term: number): string {
    return path.join(this.dir, `snapshot-${term}-${index}.snap`);
  }
}

function encode(meta: SnapshotMeta, data: Uint8Array): Uint8Array {
  const metaBytes = Buffer.from(JSON.stringify(meta));
  const out = Buffer.allocUnsafe(HEADER_BYTES + metaBytes.length + data.length);
  MAGIC.copy(out, 0);
  let at = MAGIC.length;
  at = out.writeUInt32LE(metaBytes.length, at);
  at = out.writeUInt32LE(crc32(metaBytes), at);
  at = out.writeUInt32LE(crc32(data), at);
  at = out.writeUInt32LE(data.length % 0x1_0000_0000, at);
  at = out.writeUInt32LE(Math.floor(data.length / 0x1_0000_0000), at);
  out.set(metaBytes, at);
  out.set(data, at + metaBytes.length);
  return out;
}

function decode(file: string, bytes: Uint8Array): { meta: SnapshotMeta; data: Uint8Array } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ChecksumError(file, 'not a snapshot file');
  }
  let at = MAGIC.length;
  const metaLength = buf.readUInt32LE(at);
  const metaCrc = buf.readUInt32LE((at += 4));
  const dataCrc = buf.readUInt32LE((at += 4));
  const dataLength = buf.readUInt32LE((at += 4)) + buf.readUInt32LE((at += 4)) * 0x1_0000_0000;
  if (buf.length !== HEADER_BYTES + metaLength + dataLength) {
    throw new ChecksumError(file, `${buf.length} bytes where the header promises ${HEADER_BYTES + metaLength + dataLength}`);
  }
  const metaBytes = buf.subarray(HEADER_BYTES, HEADER_BYTES + metaLength);
  const data = buf.subarray(HEADER_BYTES + metaLength);
  if (crc32(metaBytes) !== metaCrc) throw new ChecksumError(file, 'metadata checksum mismatch');
  if (crc32(data) !== dataCrc) throw new ChecksumError(file, 'data checksum mismatch');
  return { meta: JSON.parse(metaBytes.toString('utf8')) as SnapshotMeta, data };
}
