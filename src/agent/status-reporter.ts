/**
 * Sends task status to the managers in batches: reports gathered for `batchMs` (or until
 * `maxBatch` have gathered) go in one UpdateTaskStatus call, one call at a time. Only a task's
 * newest status is kept, since the managers only care where a task is now. Reports made while no
 * session is open wait for the next one; a failed call puts its reports back (unless newer ones
 * came meanwhile) and is retried after `retryMs`.
 */
import type { TaskStatusUpdate } from '../../proto/gen/dispatcher.js';
import type { TaskStatus } from '../../proto/gen/objects.js';
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import { silentLogger, type Logger } from '../common/logger.js';

export type SendStatus = (updates: TaskStatusUpdate[]) => Promise<void>;

export interface StatusReporterOptions {
  clock?: Clock;
  /** How long reports gather before they are sent. Default 100 ms. */
  batchMs?: number;
  /** Most reports in one call; this many waiting are sent at once. Default 100. */
  maxBatch?: number;
  /** Pause after a failed call before trying again. Default 500 ms. */
  retryMs?: number;
  logger?: Logger;
}

export class StatusReporter {
  private pending = new Map<string, TaskStatus>();
  private timer: TimerHandle | undefined;
  private inFlight = false;
  /** A call failed: the next waits for the retry pause, however many reports gather meanwhile. */
  private backingOff = false;
  private send: SendStatus | undefined;
  private readonly clock: Clock;
  private readonly batchMs: number;
  private readonly maxBatch: number;
  private readonly retryMs: number;
  private readonly logger: Logger;

  constructor(opts: StatusReporterOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.batchMs = opts.batchMs ?? 100;
    this.maxBatch = opts.maxBatch ?? 100;
    this.retryMs = opts.retryMs ?? 500;
    this.logger = opts.logger ?? silentLogger;
  }

  /** Queues the task's status; an older queued status of the same task is dropped. */
  report(taskId: string, status: TaskStatus): void {
    const queued = this.pending.get(taskId);
    if (queued && queued.state > status.state) return;
    // Re-inserted so that the map's order stays the order in which reports became due.
    this.pending.delete(taskId);
    this.pending.set(taskId, status);
    this.schedule();
  }

  /** A session is open: reports go out through `send`. */
  online(send: SendStatus): void {
    this.send = send;
    this.backingOff = false;
    this.cancelTimer();
    this.schedule();
  }

  /** No session: reports wait for the next one. A call already in flight finishes on its own. */
  offline(): void {
    this.send = undefined;
    this.cancelTimer();
  }

  /** How many reports no manager has accepted yet (the call in flight not counted). */
  backlog(): number {
    return this.pending.size;
  }

  /** Arms the batch timer, or flushes now if a full batch waits (unless backing off after a failure). */
  private schedule(): void {
    if (this.inFlight || !this.send || this.pending.size === 0) return;
    if (this.pending.size >= this.maxBatch && !this.backingOff) {
      this.cancelTimer();
      void this.flush();
      return;
    }
    if (this.timer) return;
    this.timer = this.clock.setTimer(this.backingOff ? this.retryMs : this.batchMs, () => {
      this.timer = undefined;
      this.backingOff = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const send = this.send;
    if (!send || this.inFlight || this.pending.size === 0) return;
    const batch = new Map<string, TaskStatus>();
    for (const [taskId, status] of this.pending) {
      if (batch.size === this.maxBatch) break;
      batch.set(taskId, status);
    }
    for (const taskId of batch.keys()) this.pending.delete(taskId);
    this.inFlight = true;
    try {
      await send([...batch].map(([taskId, status]) => ({ taskId, status })));
    } catch (err) {
      this.backingOff = true;
      this.logger.debug({ err, reports: batch.size }, 'agent: status report failed; will retry');
      for (const [taskId, status] of batch) if (!this.pending.has(taskId)) this.pending.set(taskId, status);
    } finally {
      this.inFlight = false;
    }
    this.schedule();
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
