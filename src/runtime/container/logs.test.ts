import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readContainerLog, readLogEntries, readRotatedLogEntries, streamText, type LogEntry } from './logs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-logs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const line = (log: string, stream = 'stdout'): string => `${JSON.stringify({ time: '2024-01-01T00:00:00.000000000Z', stream, log })}\n`;

describe('container logs', () => {
  it('reads whole entries only, skipping a line still being written', async () => {
    const path = join(dir, 'log');
    await writeFile(path, `${line('a\n')}${line('b\n', 'stderr')}{"time":"t","stre`);
    expect((await readLogEntries(path)).map((e) => `${e.stream}:${e.log}`)).toEqual(['stdout:a\n', 'stderr:b\n']);
    expect(await readLogEntries(join(dir, 'missing'))).toEqual([]);
  });

  it('reads rotated files oldest first, then the current one', async () => {
    const path = join(dir, 'container.log');
    await writeFile(`${path}.2`, line('1\n'));
    await writeFile(`${path}.1`, line('2\n') + line('3\n'));
    await writeFile(path, line('4\n'));
    expect(streamText(await readRotatedLogEntries(path), 'stdout')).toBe('1\n2\n3\n4\n');
  });

  it('reads a log never rotated, and nothing when there is none', async () => {
    const path = join(dir, 'container.log');
    expect(await readRotatedLogEntries(path)).toEqual([]);
    await writeFile(path, line('only\n'));
    expect(streamText(await readRotatedLogEntries(path), 'stdout')).toBe('only\n');
  });
});

const at = (log: string, time: string, stream = 'stdout'): string => `${JSON.stringify({ time, stream, log })}\n`;

async function collect(iterable: AsyncIterable<LogEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of iterable) out.push(entry.log);
  return out;
}

describe('readContainerLog', () => {
  const never = new AbortController().signal;

  it('takes the tail across rotated files, oldest first', async () => {
    const path = join(dir, 'container.log');
    await writeFile(`${path}.2`, line('1\n') + line('2\n'));
    await writeFile(`${path}.1`, line('3\n'));
    await writeFile(path, line('4\n') + line('5\n'));
    expect(await collect(readContainerLog(path, { follow: false, tail: 4 }, never))).toEqual(['2\n', '3\n', '4\n', '5\n']);
    expect(await collect(readContainerLog(path, { follow: false, tail: -1 }, never))).toHaveLength(5);
    expect(await collect(readContainerLog(path, { follow: false, tail: 0 }, never))).toEqual([]);
  });

  it('keeps the entries at or after --since, to the nanosecond', async () => {
    const path = join(dir, 'container.log');
    await writeFile(path, at('old\n', '2024-01-01T00:00:00.000000001Z') + at('edge\n', '2024-01-01T00:00:00.000000002Z') + at('new\n', '2024-01-01T00:00:01.5Z'));
    expect(await collect(readContainerLog(path, { follow: false, tail: -1, since: '2024-01-01T00:00:00.000000002Z' }, never))).toEqual(['edge\n', 'new\n']);
    expect(await collect(readContainerLog(path, { follow: false, tail: -1, since: '2024-01-01T01:00:01+01:00' }, never))).toEqual(['new\n']);
    await expect(collect(readContainerLog(path, { follow: false, tail: -1, since: 'yesterday' }, never))).rejects.toThrow(/invalid time/);
  });

  it('follows appends, a partial line once it is whole, and a rotation; ends when aborted', async () => {
    const path = join(dir, 'container.log');
    await writeFile(path, line('before\n'));
    const abort = new AbortController();
    const reader = readContainerLog(path, { follow: true, tail: -1, pollMs: 5 }, abort.signal);
    expect((await reader.next()).value?.log).toBe('before\n');
    const whole = line('appended\n');
    await appendFile(path, whole.slice(0, 10));
    const next = reader.next();
    await appendFile(path, whole.slice(10));
    expect((await next).value?.log).toBe('appended\n');
    // The shim's rotation: the rest of the old file, renamed to .1, comes before the new file.
    await appendFile(path, line('last of the old file\n'));
    await rename(path, `${path}.1`);
    await writeFile(path, line('first of the new file\n'));
    expect((await reader.next()).value?.log).toBe('last of the old file\n');
    expect((await reader.next()).value?.log).toBe('first of the new file\n');
    const pending = reader.next();
    abort.abort();
    expect((await pending).done).toBe(true);
  });

  it('follows a log that does not exist yet, and one truncated to start anew', async () => {
    const path = join(dir, 'container.log');
    const abort = new AbortController();
    const reader = readContainerLog(path, { follow: true, tail: 0, pollMs: 5 }, abort.signal);
    const first = reader.next();
    await writeFile(path, line('a long first line\n'));
    expect((await first).value?.log).toBe('a long first line\n');
    await writeFile(path, line('b\n'));
    expect((await reader.next()).value?.log).toBe('b\n');
    abort.abort();
    expect((await reader.next()).done).toBe(true);
  });
});
