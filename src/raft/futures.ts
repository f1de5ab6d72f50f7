/**
 * The promise-with-a-deadline behind every asynchronous RaftNode call (apply, barrier, reads,
 * membership changes, leadership transfer). The driver keeps these in its waiting lists and settles
 * them from the Ready loop; a timeout settles one on its own, so lists drop settled futures lazily.
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import { RaftError } from './types.js';

export class Future<T> {
  readonly promise: Promise<T>;
  private settleResolve!: (value: T) => void;
  private settleReject!: (err: Error) => void;
  private timer: TimerHandle | undefined;
  private done = false;

  /** A timeoutMs of 0 or less waits indefinitely (until leadership loss or shutdown settles it). */
  constructor(clock: Clock, timeoutMs: number, what: string) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.settleResolve = resolve;
      this.settleReject = reject;
    });
    if (timeoutMs > 0) {
      this.timer = clock.setTimer(timeoutMs, () =>
        this.reject(new RaftError('Timeout', `${what} timed out after ${timeoutMs}ms`)),
      );
    }
  }

  get settled(): boolean {
    return this.done;
  }

  resolve(value: T): void {
    if (this.finish()) this.settleResolve(value);
  }

  reject(err: Error): void {
    if (this.finish()) this.settleReject(err);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.timer?.cancel();
    this.timer = undefined;
    return true;
  }
}

