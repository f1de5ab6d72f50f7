import { describe, expect, it } from 'vitest';
import { seededRandom } from '../common/random.js';
import { backoffDelay, DEFAULT_RECONNECT_BACKOFF } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from the initial pause up to the maximum, jittered within the upper half', () => {
    const random = seededRandom(7);
    const ceilings = [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000];
    ceilings.forEach((ceiling, i) => {
      for (let draw = 0; draw < 50; draw++) {
        const d = backoffDelay(i + 1, DEFAULT_RECONNECT_BACKOFF, random);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    });
    expect(backoffDelay(1_000, DEFAULT_RECONNECT_BACKOFF, random)).toBeLessThanOrEqual(5_000);
  });

  it('spreads the pauses of workers that failed together', () => {
    const random = seededRandom(1);
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(5, DEFAULT_RECONNECT_BACKOFF, random)));
    expect(delays.size).toBeGreaterThan(10);
  });
});
