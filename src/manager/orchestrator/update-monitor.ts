/**
 * Failure accounting for one rolling update: every task the update starts is watched until it has
 * been up for the monitor period. One that stops by itself, or turns unhealthy, before that (or
 * before it ever came up) is a failure of the update.
 */
import { HealthState, TaskState, taskStateToJSON, type Task } from '../../../proto/gen/objects.js';
import type { Clock } from '../../common/clock.js';
import { isFinished, isRunnable, isUp, observedState, taskId } from './task.js';

export interface UpdateFailure {
  taskId: string;
  /** The task's own words: its error, else its status message, else its state. */
  reason: string;
}

interface Watched {
  /** Monotonic time it was first seen up; undefined while it is not up yet. */
  upSince?: number;
}

export class FailureMonitor {
  private readonly watched = new Map<string, Watched>();
  readonly failures: UpdateFailure[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly monitorMs: number,
  ) {}

  watch(id: string): void {
    if (!this.watched.has(id)) this.watched.set(id, {});
  }

  /** Feeds a watched task's new state (from a store event); other tasks are ignored. */
  observe(task: Task): void {
    const id = taskId(task);
    const entry = this.watched.get(id);
    if (entry === undefined) return;
    if (stoppedUnasked(task)) {
      this.watched.delete(id);
      this.failures.push({ taskId: id, reason: failureReason(task) });
      return;
    }
    if (!isRunnable(task)) {
      // Shut down on purpose (scaled away, replaced): neither a failure nor worth waiting for.
      this.watched.delete(id);
      return;
    }
    if (entry.upSince === undefined && isUp(task)) entry.upSince = this.clock.now();
  }

  forget(id: string): void {
    this.watched.delete(id);
  }

  /**
   * When every watched task will have been up for the monitor period (monotonic ms), 'now' if that
   * is past, or 'waiting' while some task is not up yet. Tasks past their period stop being watched.
   */
  settlesAt(): number | 'waiting' | 'now' {
    const now = this.clock.now();
    let latest = -Infinity;
    for (const [id, entry] of this.watched) {
      if (entry.upSince === undefined) return 'waiting';
      const end = entry.upSince + this.monitorMs;
      if (end <= now) this.watched.delete(id);
      else latest = Math.max(latest, end);
    }
    return latest === -Infinity ? 'now' : latest;
  }
}

/** Stopped, or unhealthy, while the managers still wanted it running. */
function stoppedUnasked(task: Task): boolean {
  if (!isRunnable(task)) return false;
  return isFinished(task) || task.status?.health === HealthState.HEALTH_STATE_UNHEALTHY;
}

function failureReason(task: Task): string {
  const status = task.status;
  if (status?.err) return status.err;
  if (status?.health === HealthState.HEALTH_STATE_UNHEALTHY && observedState(task) <= TaskState.TASK_STATE_RUNNING) {
    return 'task is unhealthy';
  }
  if (status?.message) return status.message;
  return `task ${taskStateToJSON(observedState(task)).replace('TASK_STATE_', '').toLowerCase()}`;
}
