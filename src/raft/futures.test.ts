import { describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../common/clock.js';
import { Future } from './futures.js';

/** Test fake: timers fire only when the test says so. */
function manualClock(): Clock & { fire(): void; pending(): number } {
  let timers: { fn: () => void; cancelled: boolean }[] = [];
  return {
    now: () => 0,
    setTimer(_ms: number, fn: () => void): TimerHandle {
      const t = { fn, cancelled: false };
      timers.push(t);
      return { cancel: () => (t.cancelled = true) };
    },
    fire() {
      const due = timers;
      timers = [];
      for (const t of due) if (!t.cancelled) t.fn();
    },
    pending: () => timers.filter((t) => !t.cancelled).length,
  };
}

describe('Future', () => {
  it('rejects with Timeout when its deadline passes first, and ignores later settlement', async () => {
    const clock = manualClock();
    const f = new Future<number>(clock, 100, 'apply');
    clock.fire();
    f.resolve(1);
    await expect(f.promise).rejects.toMatchObject({ code: 'Timeout', message: 'apply timed out after 100ms' });
    expect(f.settled).toBe(true);
  });

  it('cancels its timer once settled', async () => {
    const clock = manualClock();
    const f = new Future<number>(clock, 100, 'apply');
    f.resolve(7);
    expect(clock.pending()).toBe(0);
    await expect(f.promise).resolves.toBe(7);
  });

  it('waits indefinitely without a timeout', () => {
    const clock = manualClock();
    const f = new Future<void>(clock, 0, 'barrier');
    expect(clock.pending()).toBe(0);
    expect(f.settled).toBe(false);
    f.reject(new Error('shutdown'));
    expect(f.settled).toBe(true);
    return expect(f.promise).rejects.toThrow('shutdown');
  });
});
