/**
 * A runtime log file read strictly, for tests of what the runtime writes: every line must be one
 * JSON object in Docker's json-file shape, exactly `log`, `stream` (stdout or stderr) and `time`
 * (RFC 3339, UTC, nanoseconds), and the file must end with a newline; anything else throws, naming
 * the line. (logs.ts, the reader shoal uses, skips what it cannot read instead.)
 */
import { readFileSync } from 'node:fs';
import type { LogEntry } from '../logs.js';

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

export function readJsonLogStrictly(path: string): LogEntry[] {
  const text = readFileSync(path, 'utf8');
  if (!text.endsWith('\n')) throw new Error(`${path}: does not end with a newline`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line, i) => {
      let entry: Record<string, unknown> = {};
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // Not JSON: reported below with the line.
      }
      const shaped =
        entry !== null &&
        Object.keys(entry).sort().join(',') === 'log,stream,time' &&
        typeof entry.log === 'string' &&
        (entry.stream === 'stdout' || entry.stream === 'stderr') &&
        typeof entry.time === 'string' &&
        TIME.test(entry.time);
      if (!shaped) throw new Error(`${path}:${i + 1}: not a json-file log line: ${line}`);
      return entry as unknown as LogEntry;
    });
}
