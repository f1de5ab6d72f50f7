/**
 * A container's healthcheck as Docker defines it (the HEALTHCHECK instruction, `docker service
 * create --health-*`, proto/objects.proto's HealthConfig): what to run, how often, how long to wait
 * for it, and how many failures make the container unhealthy.
 */

/**
 * ['NONE'] disables the check; ['CMD', program, ...args] runs the program; ['CMD-SHELL', command]
 * runs the command with /bin/sh -c. An empty list means "the image's default", which the caller
 * resolves before it gets here.
 */
export type HealthTest = readonly string[];

export interface HealthCheck {
  test: HealthTest;
  /** Time between the end of one probe and the start of the next. 0 or absent: 30 s. */
  intervalMs?: number;
  /** How long one probe may run before it counts as failed. 0 or absent: 30 s. */
  timeoutMs?: number;
  /** Consecutive failures that make the container unhealthy. 0 or absent: 3. */
  retries?: number;
  /** Time after the container starts during which failures do not count. Absent: 0. */
  startPeriodMs?: number;
}

/** A healthcheck with Docker's defaults filled in and its test turned into the argv to run. */
export interface ResolvedHealthCheck {
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRIES = 3;

/** The program to run for `test`, or undefined when there is no check (NONE or empty). */
export function probeArgv(test: HealthTest): string[] | undefined {
  const [kind, ...rest] = test;
  switch (kind) {
    case undefined:
    case 'NONE':
      return undefined;
    case 'CMD':
      if (rest.length === 0) throw new Error('healthcheck: CMD needs a program to run');
      return rest;
    case 'CMD-SHELL':
      if (rest.length === 0) throw new Error('healthcheck: CMD-SHELL needs a command');
      // Docker joins the words after CMD-SHELL into one command line.
      return ['/bin/sh', '-c', rest.join(' ')];
    default:
      throw new Error(`healthcheck: unknown test type ${JSON.stringify(kind)} (want NONE, CMD or CMD-SHELL)`);
  }
}

/** Fills in Docker's defaults; undefined when the check runs nothing. Throws on a malformed check. */
export function resolveHealthCheck(check: HealthCheck): ResolvedHealthCheck | undefined {
  const argv = probeArgv(check.test);
  if (!argv) return undefined;
  for (const key of ['intervalMs', 'timeoutMs', 'retries', 'startPeriodMs'] as const) {
    const value = check[key];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new Error(`healthcheck: ${key} must be a non-negative number, not ${value}`);
    }
  }
  return {
    argv,
    intervalMs: check.intervalMs || DEFAULT_INTERVAL_MS,
    timeoutMs: check.timeoutMs || DEFAULT_TIMEOUT_MS,
    retries: check.retries || DEFAULT_RETRIES,
    startPeriodMs: check.startPeriodMs ?? 0,
  };
}

/** A duration as Go prints one (30s, 1.5s, 1m30s, 250ms), so messages read as Docker's do. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = `${(ms % 60_000) / 1000}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}
