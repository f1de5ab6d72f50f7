import { describe, expect, it } from 'vitest';
import { checkLinearizable, type KvOperation } from './linearizability.js';

let nextId = 0;
function put(key: string, value: string, call: number, ret: number, client = 0): KvOperation {
  return { id: nextId++, client, key, kind: 'put', value, call, ret };
}
function get(key: string, value: string | undefined, call: number, ret: number, client = 1): KvOperation {
  return { id: nextId++, client, key, kind: 'get', value, call, ret };
}

describe('checkLinearizable', () => {
  it('accepts a sequential history', () => {
    const h = [put('a', 'v1', 0, 1), get('a', 'v1', 2, 3), put('a', 'v2', 4, 5), get('a', 'v2', 6, 7)];
    expect(checkLinearizable(h).ok).toBe(true);
  });

  it('accepts a read of the initial absent value', () => {
    expect(checkLinearizable([get('a', undefined, 0, 1), put('a', 'v1', 2, 3)]).ok).toBe(true);
  });

  it('accepts concurrent operations that can be ordered either way', () => {
    // The read overlaps both writes, so it may see either value.
    const h = [put('a', 'v1', 0, 10), put('a', 'v2', 1, 11), get('a', 'v1', 5, 12), get('a', 'v2', 13, 14)];
    expect(checkLinearizable(h).ok).toBe(true);
  });

  it('rejects a stale read after a completed write', () => {
    const h = [put('a', 'v1', 0, 1), put('a', 'v2', 2, 3), get('a', 'v1', 4, 5)];
    const result = checkLinearizable(h);
    expect(result.ok).toBe(false);
    if (result.ok === false) expect(result.key).toBe('a');
  });

  it('rejects reads that see two writes in opposite orders', () => {
    const h = [
      put('a', 'v1', 0, 10),
      put('a', 'v2', 0, 10),
      get('a', 'v1', 11, 12),
      get('a', 'v2', 13, 14),
      get('a', 'v1', 15, 16),
    ];
    expect(checkLinearizable(h).ok).toBe(false);
  });

  it('rejects a read of a value that was never written', () => {
    expect(checkLinearizable([get('a', 'ghost', 0, 1)]).ok).toBe(false);
  });

  it('rejects a read that returns before the write it saw was invoked', () => {
    expect(checkLinearizable([get('a', 'v1', 0, 1), put('a', 'v1', 2, 3)]).ok).toBe(false);
  });

  it('lets an indeterminate write take effect late', () => {
    // The write timed out, yet a much later read sees it: fine, it may have been applied any time after its call.
    const h = [put('a', 'v1', 0, 1), put('a', 'v2', 2, Infinity), get('a', 'v1', 3, 4), get('a', 'v2', 50, 51)];
    expect(checkLinearizable(h).ok).toBe(true);
  });

  it('lets an indeterminate write never take effect', () => {
    const h = [put('a', 'v1', 0, 1), put('a', 'v2', 2, Infinity), get('a', 'v1', 30, 31)];
    expect(checkLinearizable(h).ok).toBe(true);
  });

  it('still rejects when an indeterminate write would have to take effect twice', () => {
    const h = [
      put('a', 'v1', 0, 1),
      put('a', 'v2', 2, Infinity),
      get('a', 'v2', 3, 4),
      put('a', 'v3', 5, 6),
      get('a', 'v2', 7, 8),
    ];
    expect(checkLinearizable(h).ok).toBe(false);
  });

  it('checks each key on its own', () => {
    const h = [put('a', 'a1', 0, 1), put('b', 'b1', 0, 1), get('a', 'a1', 2, 3), get('b', undefined, 2, 3)];
    const result = checkLinearizable(h);
    expect(result.ok).toBe(false);
    if (result.ok === false) expect(result.key).toBe('b');
  });

  it('handles a long linearizable history with many concurrent clients quickly enough to finish', () => {
    const h: KvOperation[] = [];
    let value = 0;
    for (let t = 0; t < 600; t += 3) {
      const v = `v${value++}`;
      h.push(put('k', v, t, t + 4, 0));
      h.push(get('k', v, t + 3, t + 6, 1));
      if (t % 30 === 0) h.push(put('k', `lost${t}`, t, Infinity, 2));
    }
    expect(checkLinearizable(h).ok).toBe(true);
  });

  it('reports an exhausted budget as unknown, not as a pass', () => {
    const h = [put('a', 'v1', 0, 10), put('a', 'v2', 0, 10), get('a', 'v1', 11, 12), get('a', 'v2', 13, 14)];
    expect(checkLinearizable(h, 1).ok).toBe('unknown');
  });
});
