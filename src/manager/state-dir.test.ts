import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadNodeId } from './state-dir.js';

describe('loadNodeId', () => {
  const dirs: string[] = [];
  const fresh = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-state-'));
    dirs.push(dir);
    return join(dir, 'state');
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('chooses an id once and keeps it', () => {
    const dir = fresh();
    const id = loadNodeId(dir);
    expect(id).toMatch(/^[0-9a-z]{25}$/);
    expect(loadNodeId(dir)).toBe(id);
    expect(readFileSync(join(dir, 'node-id'), 'utf8').trim()).toBe(id);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('takes the requested id on first start, and refuses a different one later', () => {
    const dir = fresh();
    expect(loadNodeId(dir, 'm1')).toBe('m1');
    expect(loadNodeId(dir, 'm1')).toBe('m1');
    expect(loadNodeId(dir)).toBe('m1');
    expect(() => loadNodeId(dir, 'm2')).toThrow(/conflicts with m1/);
  });

  it('refuses ids that are not short and shell-safe', () => {
    expect(() => loadNodeId(fresh(), 'has space')).toThrow(/--node-id/);
    expect(() => loadNodeId(fresh(), 'x'.repeat(65))).toThrow(/--node-id/);
  });
});
