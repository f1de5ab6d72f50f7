/**
 * Reading the shim's container log: JSON lines in Docker's json-file shape,
 * `{"time":"<RFC 3339, nanoseconds>","stream":"stdout"|"stderr","log":"<text, newline kept>"}`.
 * A line longer than 16 KiB is split into several entries, only the last ending in a newline.
 * When the log is rotated by size, older entries are in `path.1` (the newest of them), `path.2`, ...
 * (the shim renames `path` to `path.1` and opens a new `path`); with a single file it is truncated.
 *
 * readContainerLog serves `shoal service logs`: the last N entries across the rotated files, those
 * since a time, and a follow mode that polls the current file for appends and notices rotation.
 */
import { access, open, stat } from 'node:fs/promises';
import { readTextIfExists } from '../../common/read-if-exists.js';
import { timeNanos } from '../../common/rfc3339.js';

export interface LogEntry {
  /** As written, with nanoseconds (a Date would keep only milliseconds). */
  time: string;
  stream: 'stdout' | 'stderr';
  log: string;
}

export async function readLogEntries(path: string): Promise<LogEntry[]> {
  const text = await readTextIfExists(path);
  return text === undefined ? [] : parseLogLines(text);
}

function parseLogLines(text: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    // The shim may be part-way through a line; only whole ones are entries.
    if (line === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (isLogEntry(entry)) entries.push(entry);
  }
  return entries;
}

/**
 * Every entry still kept, oldest first: the rotated files from the oldest down, then the current one.
 * A rotation while this reads may show a few entries twice or not at all; it never mixes files up.
 */
export async function readRotatedLogEntries(path: string): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for (const file of [...(await rotatedFiles(path)), path]) entries.push(...(await readLogEntries(file)));
  return entries;
}

/** The rotated files of a log, oldest first. */
async function rotatedFiles(path: string): Promise<string[]> {
  const rotated: string[] = [];
  while (await exists(`${path}.${rotated.length + 1}`)) rotated.push(`${path}.${rotated.length + 1}`);
  return rotated.reverse();
}

export interface LogReadOptions {
  /** After what is there, go on with what is written until the signal aborts. */
  follow: boolean;
  /** Only the last this many entries of what is there already; negative: all. */
  tail: number;
  /** Only entries written at or after this RFC 3339 time. */
  since?: string;
  /** How often a followed log is looked at. Default 100 ms. */
  pollMs?: number;
}

/**
 * The entries of a container log, oldest first, as `options` asks; ends when the signal aborts
 * (without an error: the reader was simply no longer wanted). The tail is taken from every file
 * still kept, which the shim's rotation bounds (max size times max files), so it is read whole.
 */
export async function* readContainerLog(path: string, options: LogReadOptions, signal: AbortSignal): AsyncGenerator<LogEntry> {
  const since = options.since ? timeNanos(options.since) : undefined;
  if (options.since && since === undefined) throw new Error(`invalid time "${options.since}": use RFC 3339`);
  const wanted = (e: LogEntry): boolean => since === undefined || (timeNanos(e.time) ?? 0n) >= since;
  const cursor = new LogCursor(path);
  const existing: LogEntry[] = [];
  for (const file of await rotatedFiles(path)) existing.push(...(await readLogEntries(file)));
  existing.push(...(await cursor.readNew()));
  const kept = existing.filter(wanted);
  for (const entry of options.tail < 0 ? kept : kept.slice(Math.max(0, kept.length - options.tail))) {
    if (signal.aborted) return;
    yield entry;
  }
  while (options.follow && !signal.aborted) {
    await pause(options.pollMs ?? 100, signal);
    if (signal.aborted) return;
    for (const entry of await cursor.readNew()) if (wanted(entry)) yield entry;
  }
}

/**
 * Where a reader is in the current log file: which file (its inode) and how far (a byte offset
 * just past the last whole line read). A new inode at the path means the shim rotated: the rest of
 * the old file is read from `path.1` (where it was renamed) before the new file from its start.
 * A file shorter than the offset was truncated (a single-file log starts anew).
 */
class LogCursor {
  private ino: number | undefined;
  private offset = 0;

  constructor(private readonly path: string) {}

  async readNew(): Promise<LogEntry[]> {
    const now = await statIfExists(this.path);
    if (now === undefined) return [];
    if (this.ino !== undefined && now.ino !== this.ino) {
      const entries: LogEntry[] = [];
      const old = await statIfExists(`${this.path}.1`);
      if (old?.ino === this.ino) entries.push(...(await this.readFrom(`${this.path}.1`)));
      this.ino = now.ino;
      this.offset = 0;
      entries.push(...(await this.readFrom(this.path)));
      return entries;
    }
    this.ino = now.ino;
    if (now.size < this.offset) this.offset = 0;
    return now.size === this.offset ? [] : this.readFrom(this.path);
  }

  /** The whole lines of `file` past the offset; the offset moves past them (a partial line waits). */
  private async readFrom(file: string): Promise<LogEntry[]> {
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const { size } = await handle.stat();
      if (size <= this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
      this.offset += end;
      return parseLogLines(buffer.subarray(0, end).toString('utf8'));
    } finally {
      await handle.close();
    }
  }
}

async function statIfExists(path: string): Promise<{ ino: number; size: number } | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** The text of one stream, with split entries joined back together. */
export function streamText(entries: LogEntry[], stream: LogEntry['stream']): string {
  return entries
    .filter((e) => e.stream === stream)
    .map((e) => e.log)
    .join('');
}

function isLogEntry(value: unknown): value is LogEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.time === 'string' && (v.stream === 'stdout' || v.stream === 'stderr') && typeof v.log === 'string';
}
