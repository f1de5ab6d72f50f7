/**
 * Storage contracts of the Raft driver, shaped after hashicorp/raft's LogStore, StableStore and
 * SnapshotStore. All calls are synchronous: the driver persists one Ready at a time, and the calls
 * being synchronous is what lets the simulator run the real storage code deterministically on a
 * simulated disk (SimFs) that loses or tears whatever was not fsynced when a node crashes.
 */
import type { Entry, SnapshotMeta } from '../types.js';

export interface LogStore {
  /** Index of the first entry held, or 0 when empty. May trail a compaction point (whole segments are dropped). */
  firstIndex(): number;
  /** Index of the last entry held, or 0 when empty. */
  lastIndex(): number;
  getLog(index: number): Entry | undefined;
  /** Entries lo..hi inclusive (all must be held). */
  getRange(lo: number, hi: number): Entry[];
  /**
   * Appends contiguous entries. If entries[0].index <= lastIndex(), every held entry from that
   * index on is replaced first (a follower's log conflicting with its leader's). Not durable until sync().
   */
  storeLogs(entries: Entry[]): void;
  /** Makes everything stored so far durable (fdatasync): the group-commit point. */
  sync(): void;
  /** Discards entries with index <= upTo (at segment granularity: some may remain readable). */
  compact(upTo: number): void;
  /** Discards every entry and restarts the log after `index` (used after installing a snapshot). */
  reset(index: number): void;
  close(): void;
}

/** Small durable key-value state: the current term and vote. */
export interface StableStore {
  get(key: string): string | undefined;
  /** Sets every given key atomically; durable (fsynced) before it returns. */
  set(values: Record<string, string>): void;
  close(): void;
}

export interface SnapshotStore {
  /** Writes a snapshot durably (data and metadata checksummed, file and directory fsynced) and keeps only the newest `retain`. */
  create(meta: SnapshotMeta, data: Uint8Array): void;
  /** Metadata of stored snapshots whose checksums verify, newest first. */
  list(): SnapshotMeta[];
  /** Reads and verifies one snapshot; throws if it is missing or corrupt. */
  open(index: number, term: number): { meta: SnapshotMeta; data: Uint8Array };
}

/**
 * The slice of a POSIX file system that storage needs, synchronous. `realFs` maps it onto node:fs;
 * `SimFs` models durability: written data and directory entries survive a crash only once fsynced.
 */
export interface Fs {
  mkdirp(path: string): void;
  readdir(path: string): string[];
  exists(path: string): boolean;
  readFile(path: string): Uint8Array;
  /** Opens for appending, creating the file (empty) if absent. */
  openAppend(path: string): FileHandle;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  truncate(path: string, length: number): void;
  /** fsync of a directory: makes creations, renames and removals in it durable. */
  fsyncDir(path: string): void;
}

export interface FileHandle {
  write(data: Uint8Array): void;
  /** Makes the file's written data durable. */
  fdatasync(): void;
  size(): number;
  close(): void;
}
