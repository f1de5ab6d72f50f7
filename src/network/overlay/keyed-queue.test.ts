import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('KeyedQueue', () => {
  it('runs the jobs of one key one at a time in call order, past a failure', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const gate = deferred();
    const first = queue.run('net1', async () => {
      log.push('first start');
      await gate.promise;
      log.push('first end');
      throw new Error('first failed');
    });
    const second = queue.run('net1', async () => {
      log.push('second');
      return 2;
    });
    await Promise.resolve();
    expect(log).toEqual(['first start']);
    gate.resolve();
    await expect(first).rejects.toThrow('first failed');
    expect(await second).toBe(2);
    expect(log).toEqual(['first start', 'first end', 'second']);
  });

  it('runs jobs of different keys concurrently', async () => {
    const queue = new KeyedQueue();
    const gate = deferred();
    const blocked = queue.run('net1', () => gate.promise);
    expect(await queue.run('net2', async () => 'ran')).toBe('ran');
    gate.resolve();
    await blocked;
  });
});
