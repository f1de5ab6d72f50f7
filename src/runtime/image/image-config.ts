/**
 * The parts of an image configuration (OCI image-spec config.md; Docker's has the same fields) the
 * node needs: what a container runs by default, and the DiffIDs that name the unpacked layers.
 */
import type { HealthCheck } from '../health/index.js';
import { checkDigest } from './digest.js';

/** What a container of this image runs unless the service says otherwise. */
export interface RuntimeConfig {
  cmd: string[];
  entrypoint: string[];
  env: string[];
  workingDir: string;
  user: string;
  /** Empty when the image names none. */
  stopSignal: string;
  /** Docker's `Healthcheck` (durations there are nanoseconds); absent or malformed: none. */
  healthcheck?: HealthCheck;
}

export interface ImageConfig {
  runtime: RuntimeConfig;
  /** One per layer, in manifest order: the sha256 of the layer's uncompressed tar. */
  diffIds: string[];
  /** When the image was built (RFC 3339), if the config says. */
  created?: string;
}

/** Thrown for a config that is not JSON or lacks `rootfs.diff_ids`; `what` names the image. */
export class ImageConfigError extends Error {
  override name = 'ImageConfigError';
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

export function parseImageConfig(raw: Buffer, what: string): ImageConfig {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ImageConfigError(`the image config of ${what} is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null) throw new ImageConfigError(`the image config of ${what} is not a JSON object`);
  const rootfs = doc.rootfs as { type?: unknown; diff_ids?: unknown } | undefined;
  if (rootfs?.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw new ImageConfigError(`the image config of ${what} has no rootfs.diff_ids`);
  }
  const diffIds = rootfs.diff_ids.map((d) => {
    if (typeof d !== 'string') throw new ImageConfigError(`the image config of ${what} has a malformed DiffID`);
    return checkDigest(d);
  });
  const c = (doc.config ?? {}) as Record<string, unknown>;
  const config: ImageConfig = {
    runtime: {
      cmd: strings(c.Cmd),
      entrypoint: strings(c.Entrypoint),
      env: strings(c.Env),
      workingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : '',
      user: typeof c.User === 'string' ? c.User : '',
      stopSignal: typeof c.StopSignal === 'string' ? c.StopSignal : '',
    },
    diffIds,
  };
  const healthcheck = parseHealthcheck(c.Healthcheck);
  if (healthcheck) config.runtime.healthcheck = healthcheck;
  if (typeof doc.created === 'string') config.created = doc.created;
  return config;
}

function parseHealthcheck(value: unknown): HealthCheck | undefined {
  const health = value as Record<string, unknown> | undefined;
  if (!health || typeof health !== 'object' || !Array.isArray(health.Test) || !health.Test.every((t) => typeof t === 'string')) {
    return undefined;
  }
  const ms = (n: unknown): number | undefined => (typeof n === 'number' && n > 0 ? Math.round(n / 1e6) : undefined);
  return {
    test: health.Test as string[],
    intervalMs: ms(health.Interval),
    timeoutMs: ms(health.Timeout),
    startPeriodMs: ms(health.StartPeriod),
    retries: typeof health.Retries === 'number' && health.Retries > 0 ? health.Retries : undefined,
  };
}
