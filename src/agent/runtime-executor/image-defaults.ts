/**
 * What an image says a container runs by default: the image store's RuntimeConfig (command,
 * environment, directory, user) and the two settings it does not keep, read here from the same
 * config blob: `StopSignal` and `Healthcheck` (docker's image config fields; durations there are
 * nanoseconds).
 */
import { readFile } from 'node:fs/promises';
import type { HealthCheck } from '../../runtime/health/index.js';
import type { ImageStore, StoredImage } from '../../runtime/image/image-store.js';
import type { RuntimeConfig } from '../../runtime/image/image-config.js';

export interface ImageDefaults extends RuntimeConfig {
  /** Empty when the image names none. */
  stopSignal: string;
  healthcheck?: HealthCheck;
}

/** The defaults of an image in the store. */
export async function readImageDefaults(store: ImageStore, image: StoredImage): Promise<ImageDefaults> {
  return { ...image.config, ...parseImageExtras(await readFile(store.blobs.path(image.id))) };
}

/** StopSignal and Healthcheck from an image config's JSON; absent or malformed fields are left out. */
export function parseImageExtras(raw: Buffer): Pick<ImageDefaults, 'stopSignal' | 'healthcheck'> {
  const config = ((JSON.parse(raw.toString('utf8')) as { config?: unknown }).config ?? {}) as Record<string, unknown>;
  const extras: Pick<ImageDefaults, 'stopSignal' | 'healthcheck'> = { stopSignal: typeof config.StopSignal === 'string' ? config.StopSignal : '' };
  const health = config.Healthcheck as Record<string, unknown> | undefined;
  if (health && typeof health === 'object' && Array.isArray(health.Test) && health.Test.every((t) => typeof t === 'string')) {
    const ms = (value: unknown): number | undefined => (typeof value === 'number' && value > 0 ? Math.round(value / 1e6) : undefined);
    extras.healthcheck = {
      test: health.Test as string[],
      intervalMs: ms(health.Interval),
      timeoutMs: ms(health.Timeout),
      startPeriodMs: ms(health.StartPeriod),
      retries: typeof health.Retries === 'number' && health.Retries > 0 ? health.Retries : undefined,
    };
  }
  return extras;
}
