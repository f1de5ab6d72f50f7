/**
 * Retries with exponential back-off for the failures worth retrying: lost connections and the
 * registry's 5xx and 429 answers. Everything else (404, a digest mismatch) fails at once.
 */
import { systemClock, type Clock } from '../../common/clock.js';
import { systemRandom, type Random } from '../../common/random.js';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5_000 };

/** A failure that another try may not repeat. `cause` is what to report if every try fails. */
export class TransientError extends Error {
  override name = 'TransientError';
  constructor(message: string, readonly final: Error) {
    super(message);
  }
}

export interface RetryEnv {
  policy: RetryPolicy;
  clock?: Clock;
  random?: Random;
}

/** Runs `op` until it succeeds, throws a non-transient error, or runs out of tries. */
export async function withRetry<T>(env: RetryEnv, op: (attempt: number) => Promise<T>): Promise<T> {
  const clock = env.clock ?? systemClock;
  const random = env.random ?? systemRandom;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt);
    } catch (e) {
      if (!(e instanceof TransientError)) throw e;
      if (attempt >= env.policy.attempts) throw e.final;
      // Half fixed, half jitter: concurrent downloads that failed together do not retry in step.
      const ceiling = Math.min(env.policy.maxDelayMs, env.policy.baseDelayMs * 2 ** (attempt - 1));
      const delay = ceiling / 2 + random.next() * (ceiling / 2);
      await new Promise<void>((resolve) => clock.setTimer(delay, resolve));
    }
  }
}
