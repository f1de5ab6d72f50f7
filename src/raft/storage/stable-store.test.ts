import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.js';
import { ChecksumError } from './errors.js';
import { SimFs } from './sim-fs.js';
import { FileStableStore } from './stable-store.js';

describe('FileStableStore on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'shoal-stable-'));
  });
  afterEach(() => {
    nodeFs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps values across a reopen, merging keys set separately', () => {
    const store = new FileStableStore({ dir });
    expect(store.get('term')).toBeUndefined();
    store.set({ term: '3', vote: 'n1' });
    store.set({ vote: 'n2' });
    expect(store.get('vote')).toBe('n2');
    store.close();
    const reopened = new FileStableStore({ dir });
    expect(reopened.get('term')).toBe('3');
    expect(reopened.get('vote')).toBe('n2');
    expect(reopened.get('toString')).toBeUndefined();
  });

  it('ignores and replaces a temporary file left by a crash', () => {
    new FileStableStore({ dir }).set({ term: '1' });
    nodeFs.writeFileSync(path.join(dir, 'stable.tmp'), 'half-written garbage');
    const store = new FileStableStore({ dir });
    expect(store.get('term')).toBe('1');
    store.set({ term: '2' });
    expect(new FileStableStore({ dir }).get('term')).toBe('2');
    expect(nodeFs.existsSync(path.join(dir, 'stable.tmp'))).toBe(false);
  });

  it('refuses to start from a damaged file', () => {
    new FileStableStore({ dir }).set({ term: '7', vote: 'n3' });
    const file = path.join(dir, 'stable');
    const damaged = nodeFs.readFileSync(file);
    damaged[damaged.length - 4] ^= 0x01;
    nodeFs.writeFileSync(file, damaged);
    expect(() => new FileStableStore({ dir })).toThrow(ChecksumError);
  });
});

describe('FileStableStore on SimFs', () => {
  const dir = '/node/stable';

  it('keeps what set() stored across a crash', () => {
    for (let seed = 0; seed < 20; seed++) {
      const fs = new SimFs();
      const store = new FileStableStore({ dir, fs });
      store.set({ term: '1', vote: '' });
      store.set({ term: '2', vote: 'n1' });
      fs.crash(seededRandom(seed));
      const recovered = new FileStableStore({ dir, fs });
      expect([recovered.get('term'), recovered.get('vote')]).toEqual(['2', 'n1']);
    }
  });

  it('with bugs.voteNotFsynced, can lose the vote in a crash', () => {
    const fs = new SimFs();
    const store = new FileStableStore({ dir, fs, bugs: { voteNotFsynced: true } });
    store.set({ term: '2', vote: 'n1' });
    fs.crash(seededRandom(1));
    const recovered = new FileStableStore({ dir, fs });
    expect(recovered.get('vote')).toBeUndefined();
    expect(recovered.get('term')).toBeUndefined();
  });

  it('with bugs.noDirectoryFsync, can go back to the previous values in a crash', () => {
    const fs = new SimFs();
    new FileStableStore({ dir, fs }).set({ term: '1', vote: 'n1' });
    const store = new FileStableStore({ dir, fs, bugs: { noDirectoryFsync: true } });
    store.set({ term: '2', vote: 'n2' });
    fs.crash(seededRandom(1));
    const recovered = new FileStableStore({ dir, fs });
    expect([recovered.get('term'), recovered.get('vote')]).toEqual(['1', 'n1']);
  });
});
