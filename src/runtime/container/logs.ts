/**
 * Reading the shim's container log: JSON lines in Docker's json-file shape,
 * `{"time":"<RFC 3339, nanoseconds>","stream":"stdout"|"stderr","log":"<text, newline kept>"}`.
 * A line longer than 16 KiB is split into several entries, only the last ending in a newline.
 * When the log is rotated by size, older entries are in `path.1` (the newest of them), `path.2`, ...
 */
import { access } from 'node:fs/promises';
import { readTextIfExists } from '../../common/read-if-exists.js';

export interface LogEntry {
  /** As written, with nanoseconds (a Date would keep only milliseconds). */
  time: string;
  stream: 'stdout' | 'stderr';
  log: string;
}

export async function readLogEntries(path: string): Promise<LogEntry[]> {
  const text = await readTextIfExists(path);
  if (text === undefined) return [];
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
  const rotated: string[] = [];
  while (await exists(`${path}.${rotated.length + 1}`)) rotated.push(`${path}.${rotated.length + 1}`);
  const entries: LogEntry[] = [];
  for (const file of [...rotated.reverse(), path]) entries.push(...(await readLogEntries(file)));
  return entries;
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
