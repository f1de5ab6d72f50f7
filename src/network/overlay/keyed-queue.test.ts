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

describe('KeyedQueue shared jobs', () => {
  it('runs shared jobs of one key together, after the ordinary jobs called before them and before those called after', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const ensure = deferred();
    const attachA = deferred();
    const attachB = deferred();
    const first = queue.run('net1', async () => {
      log.push('ensure');
      await ensure.promise;
    });
    const a = queue.runShared('net1', async () => {
      log.push('a start');
      await attachA.promise;
      log.push('a end');
    });
    const b = queue.runShared('net1', async () => {
      log.push('b start');
      await attachB.promise;
      log.push('b end');
    });
    const remove = queue.run('net1', async () => {
      log.push('remove');
    });
    const c = queue.runShared('net1', async () => {
      log.push('c');
    });
    await flush();
    expect(log).toEqual(['ensure']);
    ensure.resolve();
    await first;
    await flush();
    expect(log).toEqual(['ensure', 'a start', 'b start']);
    attachB.resolve();
    await b;
    await flush();
    expect(log).toEqual(['ensure', 'a start', 'b start', 'b end']);
    attachA.resolve();
    await Promise.all([a, remove, c]);
    expect(log).toEqual(['ensure', 'a start', 'b start', 'b end', 'a end', 'remove', 'c']);
  });

  it('goes on past a failed shared job', async () => {
    const queue = new KeyedQueue();
    const failed = queue.runShared('net1', () => Promise.reject(new Error('attach failed')));
    const next = queue.run('net1', async () => 'ran');
    await expect(failed).rejects.toThrow('attach failed');
    expect(await next).toBe('ran');
  });
});

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
