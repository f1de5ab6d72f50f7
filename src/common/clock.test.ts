import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMEOUT_MS, systemClock } from './clock.js';

describe('systemClock timers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits out a delay longer than setTimeout takes, in steps', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    systemClock.setTimer(2 * MAX_TIMEOUT_MS + 1000, fired);
    vi.advanceTimersByTime(MAX_TIMEOUT_MS);
    vi.advanceTimersByTime(MAX_TIMEOUT_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(fired).toHaveBeenCalledOnce();
  });

  it('can be cancelled between steps', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const timer = systemClock.setTimer(MAX_TIMEOUT_MS + 5, fired);
    vi.advanceTimersByTime(MAX_TIMEOUT_MS + 1);
    timer.cancel();
    vi.advanceTimersByTime(MAX_TIMEOUT_MS);
    expect(fired).not.toHaveBeenCalled();
  });
});
