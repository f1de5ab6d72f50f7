import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLogEntries, readRotatedLogEntries, streamText } from './logs.js';

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
