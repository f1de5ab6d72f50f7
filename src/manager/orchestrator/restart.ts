/**
 * The restart supervisor: replaces tasks that stopped while the managers still wanted them running,
 * as their restart policy says, and starts delayed replacements (desired READY) when their time
 * comes. Everything it decides is derived from the store, so a new leader picks up restarts and
 * delays mid-flight.
 */
import { NodeState, TaskState, type Service, type Task } from '../../../proto/gen/objects.js';
import type { TimerHandle } from '../../common/clock.js';
import type { ReadTx, StoreEvent, WriteTx } from '../../store/types.js';
import { PassQueue, type LoopDeps } from './loop.js';
import { restartDelayMs, shouldRestart } from './restart-policy.js';
import { slotHistory, slotKeyOf } from './slots.js';
import { nodeAcceptsTasks } from './nodes.js';
import {
  endedOnItsOwn,
  isFinished,
  isGlobal,
  isRunnable,
  mayBeRunningOnNode,
  newest,
  newTask,
  taskId,
  withDesiredState,
} from './task.js';

/** How long a replacement waits for its predecessor to report it stopped before starting anyway. */
export const STOP_WAIT_TIMEOUT_MS = 60_000;

export interface RestartOptions {
  /** Wall-clock ms for the new task's status timestamp. */
  now: number;
  /** Create the replacement READY (it waits for its restart delay) rather than RUNNING. */
  delayed: boolean;
}

/**
 * Inside the caller's transaction: `task` (as read in `tx`) is told to shut down and a new task of
 * the service's current spec takes its slot (its node, for a global service). Used by the
 * supervisor itself, and without delay by the orchestrators when a node goes down or is drained.
 */
export function restartTask(tx: WriteTx, service: Service, task: Task, options: RestartOptions): Task {
  tx.tasks.update(withDesiredState(task, TaskState.TASK_STATE_SHUTDOWN));
  const placement = isGlobal(service) ? { nodeId: task.nodeId } : { slot: task.slot };
  const desiredState = options.delayed ? TaskState.TASK_STATE_READY : TaskState.TASK_STATE_RUNNING;
  const replacement = newTask(service, placement, { now: options.now, desiredState });
  tx.tasks.create(replacement);
  return replacement;
}

/** Inside the caller's transaction: `task` (as read in `tx`) is told to shut down, if it is not already. */
export function shutdownTask(tx: WriteTx, task: Task): void {
  if (task.desiredState < TaskState.TASK_STATE_SHUTDOWN) {
    tx.tasks.update(withDesiredState(task, TaskState.TASK_STATE_SHUTDOWN));
  }
}

type StartDecision = { kind: 'gone' } | { kind: 'blocked' } | { kind: 'wait'; ms: number } | { kind: 'start' };

interface DelayedStart {
  readonly slot: string;
  timer?: TimerHandle;
  /** Monotonic time after which a predecessor that never reported stopping no longer holds it back. */
  giveUpWaitingAt?: number;
}

export class RestartSupervisor {
  private readonly restarts: PassQueue<string>;
  private readonly starts: PassQueue<string>;
  /** READY tasks waiting for their delay or their predecessor, by id. */
  private readonly delayed = new Map<string, DelayedStart>();
  /** The same tasks by slot, so that a predecessor's progress wakes them. */
  private readonly delayedBySlot = new Map<string, Set<string>>();
  private unwatch: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: LoopDeps) {
    this.now = deps.now ?? Date.now;
    this.restarts = PassQueue.perKey('restart', deps.logger, (id) => this.restartIfStopped(id));
    this.starts = PassQueue.perKey('delayed-start', deps.logger, (id) => this.startIfDue(id));
  }

  start(): void {
    if (this.unwatch !== undefined) return;
    this.unwatch = this.deps.store.watch((events) => this.onEvents(events));
    this.restarts.start();
    this.starts.start();
    this.deps.store.view((tx) => {
      for (const task of tx.tasks.all()) this.noteTask(task);
    });
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.restarts.stop();
    this.starts.stop();
    for (const entry of this.delayed.values()) entry.timer?.cancel();
    this.delayed.clear();
    this.delayedBySlot.clear();
  }

  /** True when no restart or delayed start is being worked on right now (timers may still run). */
  idle(): boolean {
    return this.restarts.idle() && this.starts.idle();
  }

  private onEvents(events: readonly StoreEvent[]): void {
    let nodeChanged = false;
    for (const event of events) {
      if (event.kind === 'node') nodeChanged = true;
      if (event.kind !== 'task') continue;
      const task = event.object;
      if (event.action === 'delete') this.forget(taskId(task));
      else this.noteTask(task);
      // A predecessor that moved on (stopped, was deleted) may release a delayed replacement.
      if (this.delayedBySlot.size === 0) continue;
      const waiting = this.delayedBySlot.get(delayKey(task));
      if (waiting !== undefined) for (const id of waiting) if (id !== taskId(task)) this.starts.add(id);
    }
    // A node that went down no longer holds back replacements of its tasks.
    if (nodeChanged) for (const id of this.delayed.keys()) this.starts.add(id);
  }

  private noteTask(task: Task): void {
    const id = taskId(task);
    if (isRunnable(task) && isFinished(task)) this.restarts.add(id);
    if (task.desiredState === TaskState.TASK_STATE_READY) {
      if (!this.delayed.has(id)) this.track(id, delayKey(task));
      this.starts.add(id);
    } else if (this.delayed.has(id)) {
      this.forget(id);
    }
  }

  private track(id: string, slot: string): void {
    this.delayed.set(id, { slot });
    let ids = this.delayedBySlot.get(slot);
    if (ids === undefined) {
      ids = new Set();
      this.delayedBySlot.set(slot, ids);
    }
    ids.add(id);
  }

  private forget(id: string): void {
    const entry = this.delayed.get(id);
    if (entry === undefined) return;
    entry.timer?.cancel();
    this.delayed.delete(id);
    const ids = this.delayedBySlot.get(entry.slot);
    ids?.delete(id);
    if (ids?.size === 0) this.delayedBySlot.delete(entry.slot);
  }

  private async restartIfStopped(id: string): Promise<void> {
    await this.deps.store.update((tx) => {
      const task = tx.tasks.get(id);
      if (task === undefined || !isRunnable(task) || !isFinished(task)) return;
      const service = tx.services.get(task.serviceId);
      if (service === undefined) {
        shutdownTask(tx, task);
        return;
      }
      // A global task restarts on its own node only; a node that cannot take it is the global
      // orchestrator's business.
      const placeable = !isGlobal(service) || nodeAcceptsTasks(tx.nodes.get(task.nodeId));
      if (!placeable || !shouldRestart(task, slotHistory(tx, task))) {
        this.deps.logger.info({ task: id, service: task.serviceId }, 'task stopped; restart policy says no restart');
        shutdownTask(tx, task);
        return;
      }
      const replacement = restartTask(tx, service, task, { now: this.now(), delayed: restartDelayMs(task) > 0 });
      this.deps.logger.info({ task: id, replacement: taskId(replacement), service: task.serviceId }, 'restarting task');
    });
  }

  private async startIfDue(id: string): Promise<void> {
    const entry = this.delayed.get(id);
    if (entry === undefined) return;
    const decision = this.deps.store.view((tx) => this.decideStart(tx, id, entry));
    switch (decision.kind) {
      case 'gone':
        this.forget(id);
        return;
      case 'blocked':
        if (entry.giveUpWaitingAt === undefined) {
          entry.giveUpWaitingAt = this.deps.clock.now() + STOP_WAIT_TIMEOUT_MS;
          this.setTimer(id, entry, STOP_WAIT_TIMEOUT_MS);
        }
        return;
      case 'wait':
        this.setTimer(id, entry, decision.ms);
        return;
      case 'start':
        await this.deps.store.update((tx) => {
          const task = tx.tasks.get(id);
          if (task?.desiredState === TaskState.TASK_STATE_READY) {
            tx.tasks.update(withDesiredState(task, TaskState.TASK_STATE_RUNNING));
          }
        });
        return;
    }
  }

  /**
   * A READY task starts once every earlier task of its slot has stopped (or its node is gone, or
   * it waited too long) and, when the previous one ended by itself, once the restart delay has
   * passed since it ended (by the worker's timestamp, so a new leader honours the same deadline).
   */
  private decideStart(tx: ReadTx, id: string, entry: DelayedStart): StartDecision {
    const task = tx.tasks.get(id);
    if (task === undefined || task.desiredState !== TaskState.TASK_STATE_READY) return { kind: 'gone' };
    const predecessors = slotHistory(tx, task).filter((t) => taskId(t) !== id && !isRunnable(t));
    const waitedEnough = entry.giveUpWaitingAt !== undefined && this.deps.clock.now() >= entry.giveUpWaitingAt;
    const blocked = predecessors.some((t) => mayBeRunningOnNode(t) && nodeIsUp(tx, t.nodeId));
    if (blocked && !waitedEnough) return { kind: 'blocked' };
    // The generation just before this one says whether it stopped by itself (a restart: delay)
    // or was shut down on purpose (an update: no delay).
    const previous = newest(predecessors);
    if (previous === undefined || !endedOnItsOwn(previous)) return { kind: 'start' };
    const due = (previous.status?.timestamp ?? 0) + restartDelayMs(task);
    const ms = due - this.now();
    return ms > 0 ? { kind: 'wait', ms } : { kind: 'start' };
  }

  private setTimer(id: string, entry: DelayedStart, ms: number): void {
    entry.timer?.cancel();
    entry.timer = this.deps.clock.setTimer(ms, () => {
      entry.timer = undefined;
      this.starts.add(id);
    });
  }
}

function delayKey(task: Task): string {
  return `${task.serviceId}\u0000${slotKeyOf(task)}`;
}

function nodeIsUp(tx: ReadTx, nodeId: string): boolean {
  const node = tx.nodes.get(nodeId);
  return node !== undefined && node.status?.state !== NodeState.NODE_STATE_DOWN;
}
