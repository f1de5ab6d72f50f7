import { describe, expect, it } from 'vitest';
import { seededRandom } from '../common/random.js';
import { Heap } from './heap.js';

describe('Heap', () => {
  it('pops items in order, whatever order they were pushed in', () => {
    const random = seededRandom(7);
    const heap = new Heap<number>((a, b) => a < b);
    const values = Array.from({ length: 500 }, () => random.int(0, 100));
    for (const v of values) heap.push(v);
    const popped: number[] = [];
    for (let v = heap.pop(); v !== undefined; v = heap.pop()) popped.push(v);
    expect(popped).toEqual([...values].sort((a, b) => a - b));
    expect(heap.size).toBe(0);
  });
});
