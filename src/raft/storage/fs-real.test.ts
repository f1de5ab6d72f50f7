import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realFs } from './fs-real.js';

describe('realFs', () => {
  let root: string;
  beforeEach(() => {
    root = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'shoal-fs-'));
  });
  afterEach(() => {
    nodeFs.rmSync(root, { recursive: true, force: true });
  });

  it('creates nested directories, and accepts ones that exist', () => {
    const dir = path.join(root, 'a', 'b', 'c');
    realFs.mkdirp(dir);
    realFs.mkdirp(dir);
    expect(nodeFs.statSync(dir).isDirectory()).toBe(true);
    realFs.fsyncDir(dir);
  });

  it('appends, syncs, renames, truncates and removes files', () => {
    const file = path.join(root, 'f');
    const h = realFs.openAppend(file);
    h.write(Buffer.from('hello '));
    h.write(Buffer.from('world'));
    h.fdatasync();
    expect(h.size()).toBe(11);
    h.close();
    const again = realFs.openAppend(file);
    again.write(Buffer.from('!'));
    again.close();
    expect(Buffer.from(realFs.readFile(file)).toString()).toBe('hello world!');
    realFs.rename(file, path.join(root, 'g'));
    expect(realFs.exists(file)).toBe(false);
    expect(realFs.readdir(root)).toEqual(['g']);
    realFs.truncate(path.join(root, 'g'), 5);
    expect(Buffer.from(realFs.readFile(path.join(root, 'g'))).toString()).toBe('hello');
    realFs.unlink(path.join(root, 'g'));
    expect(realFs.readdir(root)).toEqual([]);
    expect(() => realFs.readFile(file)).toThrow(/ENOENT/);
  });
});
