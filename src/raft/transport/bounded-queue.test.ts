import { describe, expect, it } from 'vitest';
import { BoundedQueue } from './bounded-queue.js';

function drain<T>(q: BoundedQueue<T>): T[] {
  const out: T[] = [];
  for (let item = q.shift(); item !== undefined; item = q.shift()) out.push(item);
  return out;
}

describe('BoundedQueue', () => {
  it('is first in, first out across wrap-around', () => {
    const q = new BoundedQueue<number>(3);
    q.push(1);
    q.push(2);
    expect(q.shift()).toBe(1);
    q.push(3);
    q.push(4);
    expect(q.length).toBe(3);
    expect(drain(q)).toEqual([2, 3, 4]);
    expect(q.shift()).toBeUndefined();
  });

  it('drops the oldest item when full and says which', () => {
    const q = new BoundedQueue<number>(2);
    expect(q.push(1)).toBeUndefined();
    expect(q.push(2)).toBeUndefined();
    expect(q.push(3)).toBe(1);
    expect(q.length).toBe(2);
    expect(drain(q)).toEqual([2, 3]);
  });

  it('empties on clear', () => {
    const q = new BoundedQueue<string>(2);
    q.push('a');
    q.clear();
    expect(q.length).toBe(0);
    q.push('b');
    expect(drain(q)).toEqual(['b']);
  });

  it('rejects a capacity below one', () => {
    expect(() => new BoundedQueue(0)).toThrow(RangeError);
  });
});
