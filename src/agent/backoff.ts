/**
 * Jittered exponential back-off for reconnecting: the pause doubles with each consecutive failure,
 * from `initialMs` up to `maxMs`, and is drawn at random from its upper half so that many workers
 * cut off together do not all come back at the same instant.
 */
import type { Random } from '../common/random.js';

export interface BackoffConfig {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_RECONNECT_BACKOFF: BackoffConfig = { initialMs: 100, maxMs: 5_000 };

/** The pause before the attempt that follows `failures` consecutive failures (failures >= 1). */
export function backoffDelay(failures: number, config: BackoffConfig, random: Random): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(config.maxMs, config.initialMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random.next() * (ceiling / 2));
}
