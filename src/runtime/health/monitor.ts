/**
 * HealthMonitor: runs a container's healthcheck over time and keeps its verdict, with Docker's
 * rules (moby's daemon/health.go is the reference for behaviour):
 *
 * - The status starts as `starting`. The first probe runs one interval after start(), and each
 *   next one an interval after the previous one ended: probes never overlap.
 * - Exit code 0 is a success and makes the container `healthy` at once, from any status, and
 *   resets the failing streak. Anything else is a failure.
 * - A failure of a probe that began within the start period, while the container has never been
 *   healthy, does not count. Other failures add to the streak; `retries` in a row make it
 *   `unhealthy`.
 * - A probe still running after the timeout is a failure with exit code -1 and a message saying
 *   so; one that cannot run at all (the probe throws) is a failure with exit code -1 and its error.
 * - The last five results are kept, each output cut to 4 KiB, as `docker inspect` shows them.
 *
 * How a probe runs is injected (runtime-probe.ts runs `shoal-runtime exec`), and so is time, so
 * the rules are tested with a fake clock and a fake probe.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import { formatDuration, resolveHealthCheck, type HealthCheck, type ResolvedHealthCheck } from './healthcheck.js';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** What one run of the check's program gave. */
export interface ProbeResult {
  exitCode: number;
  /** Its stdout and stderr together. */
  output: string;
}

/**
 * Runs argv in the container and resolves with its exit code and output. It should give up and
 * kill the program after timeoutMs, and when `signal` aborts (the monitor stopped).
 */
export type Probe = (argv: string[], timeoutMs: number, signal: AbortSignal) => Promise<ProbeResult>;

/** One entry of the log, like docker inspect's State.Health.Log. Times are wall-clock ms. */
export interface HealthResult {
  start: number;
  end: number;
  exitCode: number;
  output: string;
}

export interface HealthReport {
  status: HealthStatus;
  /** Failures counted in a row since the last success. */
  failingStreak: number;
  /** The most recent results, oldest first. */
  log: HealthResult[];
}

export interface HealthMonitorOptions {
  check: HealthCheck;
  probe: Probe;
  clock: Clock;
  /** Wall clock for the log's times. Default Date.now. */
  now?: () => number;
  /** Called after each change of status, with the result that caused it. */
  onChange?: (status: HealthStatus, result: HealthResult) => void;
}

export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;

/** The result of a probe that ran out of time (its output is Docker's message). */
export function timeoutResult(timeoutMs: number): ProbeResult {
  return { exitCode: -1, output: `Health check exceeded timeout (${formatDuration(timeoutMs)})` };
}

/** The first 4 KiB of output (whole characters only), with "..." when more was cut, as Docker does. */
export function capOutput(output: string): string {
  const bytes = Buffer.from(output, 'utf8');
  if (bytes.length <= MAX_OUTPUT_BYTES) return output;
  let end = MAX_OUTPUT_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // back to the start of a character
  return `${bytes.subarray(0, end).toString('utf8')}...`;
}

export class HealthMonitor {
  private readonly check: ResolvedHealthCheck;
  private readonly now: () => number;
  private status: HealthStatus = 'starting';
  private failingStreak = 0;
  private readonly log: HealthResult[] = [];
  private startedAt = 0;
  /** The next probe's timer, between probes. */
  private timer: TimerHandle | undefined;
  /** The probe running now: how to abort it and its timeout. */
  private inFlight: { abort: AbortController; timeout: TimerHandle } | undefined;
  private state: 'new' | 'started' | 'stopped' = 'new';

  constructor(private readonly opts: HealthMonitorOptions) {
    const check = resolveHealthCheck(opts.check);
    if (!check) throw new Error('healthcheck: the test runs nothing (NONE or empty): no monitor needed');
    this.check = check;
    this.now = opts.now ?? Date.now;
  }

  /** Starts checking; the start period runs from now. */
  start(): void {
    if (this.state !== 'new') throw new Error('health monitor: start() called on a monitor already started');
    this.state = 'started';
    this.startedAt = this.opts.clock.now();
    this.schedule();
  }

  /** Stops checking: no further probe, a running one is aborted, and no more changes are reported. */
  stop(): void {
    this.state = 'stopped';
    this.timer?.cancel();
    this.timer = undefined;
    this.finishProbe(true);
  }

  report(): HealthReport {
    return { status: this.status, failingStreak: this.failingStreak, log: this.log.map((r) => ({ ...r })) };
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimer(this.check.intervalMs, () => {
      this.timer = undefined;
      this.runProbe();
    });
  }

  private runProbe(): void {
    const { clock } = this.opts;
    const abort = new AbortController();
    const startedAt = clock.now();
    const start = this.now();
    const settle = (result: ProbeResult, giveUp = false): void => {
      // Only the first answer counts, and none once the probe was given up or the monitor stopped.
      if (this.inFlight?.abort !== abort) return;
      this.finishProbe(giveUp);
      this.record(startedAt, { start, end: this.now(), exitCode: result.exitCode, output: capOutput(result.output) });
      if (this.state === 'started') this.schedule();
    };
    // Ours, not only the probe's: a probe that never answers still fails at the timeout.
    const timeout = clock.setTimer(this.check.timeoutMs, () => settle(timeoutResult(this.check.timeoutMs), true));
    this.inFlight = { abort, timeout };
    let probing: Promise<ProbeResult>;
    try {
      probing = this.opts.probe(this.check.argv, this.check.timeoutMs, abort.signal);
    } catch (err) {
      probing = Promise.reject(err);
    }
    probing.then(settle, (err: unknown) => settle({ exitCode: -1, output: err instanceof Error ? err.message : String(err) }));
  }

  /** Forgets the running probe and cancels its timeout; `giveUp` aborts a probe that has not answered. */
  private finishProbe(giveUp: boolean): void {
    if (!this.inFlight) return;
    this.inFlight.timeout.cancel();
    if (giveUp) this.inFlight.abort.abort();
    this.inFlight = undefined;
  }

  /** Applies one result to the status (moby's handleProbeResult). */
  private record(probeStartedAt: number, result: HealthResult): void {
    this.log.push(result);
    if (this.log.length > MAX_LOG_ENTRIES) this.log.shift();
    const before = this.status;
    if (result.exitCode === 0) {
      this.failingStreak = 0;
      this.status = 'healthy';
    } else {
      const inStartPeriod = this.status === 'starting' && probeStartedAt - this.startedAt < this.check.startPeriodMs;
      if (!inStartPeriod) {
        this.failingStreak++;
        if (this.failingStreak >= this.check.retries) this.status = 'unhealthy';
      }
    }
    if (this.status !== before) this.opts.onChange?.(this.status, { ...result });
  }
}
