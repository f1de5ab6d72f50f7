/**
 * A segmented write-ahead log: the durable LogStore. Entries are appended as CRC-framed records to
 * the newest segment file; sync() is one fdatasync for everything written since the last (group
 * commit). Entries are also held in memory to serve reads; compaction after a snapshot bounds them.
 *
 * Crash safety rests on a few orderings:
 * - a new segment's directory entry is fsynced before the sync() covering its first records returns;
 * - removing segments fsyncs the directory after each unlink, oldest first when compacting and newest
 *   first when discarding a tail, so a crash leaves a contiguous run of the log, never a hole;
 * - replacing a suffix that began in an earlier segment first removes the later segments, then writes
 *   the replacement records into the segment holding the entry before them, so replay sees records
 *   whose index is at or below the current end and truncates there.
 */
import { silentLogger, type Logger } from '../../common/logger.js';
import type { Entry, PlantedBugs } from '../types.js';
import { realFs } from './fs-real.js';
import { HeldEntries, assertContiguous } from './held-entries.js';
import type { FileHandle, Fs, LogStore } from './types.js';
import { encodeEntryRecord, recordSize } from './wal-record.js';
import { recoverLog, segmentPath, type Segment } from './wal-segments.js';

export interface WalOptions {
  dir: string;
  fs?: Fs;
  /** A segment is closed and a new one begun when the next record would take it past this size. Default 64 MiB. */
  segmentBytes?: number;
  bugs?: PlantedBugs;
  logger?: Logger;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export class WalLogStore implements LogStore {
  /** fdatasync calls made on log data, so benchmarks can report fsyncs. */
  syncCount = 0;
  /** fsync calls made on the log's directory. */
  dirSyncCount = 0;

  private readonly dir: string;
  private readonly fs: Fs;
  private readonly segmentBytes: number;
  private readonly bugs: PlantedBugs;
  private segments: Segment[];
  private readonly held: HeldEntries;
  private active: FileHandle | undefined;
  private activeSize = 0;
  /** The active segment holds writes not yet fdatasync'd. */
  private dataDirty = false;
  /** The directory holds a segment creation not yet fsynced. */
  private dirDirty = false;
  /** A suffix replacement is under way: its first record must land in the active segment for replay to truncate there. */
  private replacing = false;
  private closed = false;

  constructor(opts: WalOptions) {
    this.dir = opts.dir;
    this.fs = opts.fs ?? realFs;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.bugs = opts.bugs ?? {};
    this.fs.mkdirp(this.dir);
    const recovered = recoverLog(this.fs, this.dir, opts.logger ?? silentLogger);
    this.segments = recovered.segments;
    this.held = new HeldEntries(this.segments[0]?.firstIndex ?? 0, recovered.entries);
    const last = this.segments.at(-1);
    if (last !== undefined) this.openActive(last);
  }

  firstIndex(): number {
    return this.held.firstIndex();
  }

  lastIndex(): number {
    return this.held.lastIndex();
  }

  getLog(index: number): Entry | undefined {
    return this.held.get(index);
  }

  getRange(lo: number, hi: number): Entry[] {
    return this.held.range(lo, hi);
  }

  storeLogs(entries: Entry[]): void {
    this.ensureOpen();
    if (entries.length === 0) return;
    const start = entries[0].index;
    assertContiguous(entries);
    if (this.held.length === 0) {
      if (this.active === undefined || start !== this.held.start) this.restartAt(start);
    } else if (start > this.lastIndex() + 1) {
      throw new RangeError(`entries start at ${start} but the log ends at ${this.lastIndex()}`);
    } else if (start <= this.lastIndex()) {
      this.replaceFrom(start);
    }
    this.append(entries);
  }

  sync(): void {
    this.ensureOpen();
    if (this.dataDirty && this.active !== undefined) {
      this.active.fdatasync();
      this.syncCount++;
      this.dataDirty = false;
    }
    if (this.dirDirty) {
      this.syncDir();
      this.dirDirty = false;
    }
  }

  compact(upTo: number): void {
    this.ensureOpen();
    // The active segment always stays, so the log keeps its place even when fully compacted.
    while (this.segments.length > 1 && this.segments[1].firstIndex - 1 <= upTo) {
      const oldest = this.segments.shift() as Segment;
      this.fs.unlink(oldest.path);
      this.syncDir();
    }
    this.held.dropBefore(this.segments[0]?.firstIndex ?? this.held.start);
  }

  reset(index: number): void {
    this.ensureOpen();
    this.restartAt(index + 1);
    this.syncDir();
    this.dirDirty = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.active?.close();
    this.active = undefined;
  }

  private append(entries: Entry[]): void {
    const out = Buffer.allocUnsafe(entries.reduce((n, e) => n + recordSize(e), 0));
    let chunkStart = 0;
    let end = 0;
    for (const entry of entries) {
      const size = recordSize(entry);
      const segmentSize = this.activeSize + (end - chunkStart);
      if (!this.replacing && segmentSize > 0 && segmentSize + size > this.segmentBytes) {
        this.write(out.subarray(chunkStart, end));
        chunkStart = end;
        this.rollOver(entry.index);
      }
      end = encodeEntryRecord(entry, out, end);
      this.replacing = false;
      this.held.push(entry);
    }
    this.write(out.subarray(chunkStart, end));
  }

  private write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    (this.active as FileHandle).write(chunk);
    this.activeSize += chunk.length;
    this.dataDirty = true;
  }

  /** Seals the active segment (its data made durable) and begins a new one at `firstIndex`. */
  private rollOver(firstIndex: number): void {
    const sealed = this.active as FileHandle;
    if (this.dataDirty) {
      sealed.fdatasync();
      this.syncCount++;
      this.dataDirty = false;
    }
    sealed.close();
    this.createSegment(firstIndex);
  }

  /** Replaces held entries from `start` on (start <= lastIndex). */
  private replaceFrom(start: number): void {
    if (start <= this.held.start) {
      this.restartAt(start);
      return;
    }
    // Keep the segment holding entry start-1; the replacement records go there.
    while ((this.segments.at(-1) as Segment).firstIndex > start - 1) this.removeNewestSegment();
    if (this.active === undefined) this.openActive(this.segments.at(-1) as Segment);
    this.held.truncateFrom(start);
    this.replacing = true;
  }

  /** Discards every segment, newest first, and begins an empty log whose first entry will be `firstIndex`. */
  private restartAt(firstIndex: number): void {
    while (this.segments.length > 0) this.removeNewestSegment();
    this.held.restartAt(firstIndex);
    this.replacing = false;
    this.createSegment(firstIndex);
  }

  private removeNewestSegment(): void {
    const newest = this.segments.pop() as Segment;
    // The active segment is always the newest one; its unsynced writes go with it.
    this.active?.close();
    this.active = undefined;
    this.dataDirty = false;
    this.fs.unlink(newest.path);
    this.syncDir();
  }

  private createSegment(firstIndex: number): void {
    const segment = { firstIndex, path: segmentPath(this.dir, firstIndex) };
    this.segments.push(segment);
    this.openActive(segment);
    this.dirDirty = true;
  }

  private openActive(segment: Segment): void {
    this.active = this.fs.openAppend(segment.path);
    this.activeSize = this.active.size();
  }

  private syncDir(): void {
    if (this.bugs.noDirectoryFsync) return;
    this.fs.fsyncDir(this.dir);
    this.dirSyncCount++;
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error(`write-ahead log in ${this.dir} is closed`);
  }
}
