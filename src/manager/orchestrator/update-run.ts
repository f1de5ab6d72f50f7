/**
 * One rolling update of one service at one spec version: replaces the slots whose tasks differ from
 * the spec, `parallelism` at a time with `delay` between batches, stop-first or start-first, while
 * a FailureMonitor counts the new tasks that fail. It ends by marking the update completed, or by
 * applying the failure action; or it is aborted (superseded by a newer spec, or leadership lost).
 *
 * Nothing here must survive a failover: which slots remain is read from the store (dirty vs
 * clean tasks), and the update's state lives in service.updateStatus.
 */
import {
  TaskState,
  UpdateFailureAction,
  UpdateOrder,
  UpdateState,
  type Service,
  type Task,
  type UpdateConfig,
} from '../../../proto/gen/objects.js';
import type { TimerHandle } from '../../common/clock.js';
import { StoreConflictError, type ReadTx, type WriteTx } from '../../store/types.js';
import { rollbackConfigOf, updateConfigOf } from './defaults.js';
import type { LoopDeps } from './loop.js';
import { nodeAcceptsTasks, nodeKeepsTasks } from './nodes.js';
import { shutdownTask } from './restart.js';
import { groupSlots, isGivenUp, type Slot, type SlotKey } from './slots.js';
import { FailureMonitor, type UpdateFailure } from './update-monitor.js';
import {
  DirtyCheck,
  isFinished,
  isGlobal,
  isRunnable,
  isUp,
  mayBeRunningOnNode,
  newTask,
  newest,
  observedState,
  replicaCount,
  taskId,
} from './task.js';

type Mode = 'update' | 'rollback';

/** The task a slot's replacement step waits for, and whether the slot's other tasks stop once it is up. */
interface Replacement {
  slot: SlotKey;
  taskId: string;
  stopOthersWhenUp: boolean;
}

const CONFLICT_RETRIES = 5;

export class UpdateRun {
  private halted = false;
  private aborted = false;
  /** Pending waits, by the task they are about (null: any task of the service). */
  private readonly wakers = new Map<string | null, Set<() => void>>();
  private monitor: FailureMonitor | undefined;
  private maxFailures = Infinity;
  private sleeps = 0;
  private readonly now: () => number;

  constructor(
    private readonly deps: LoopDeps,
    readonly serviceId: string,
    readonly specVersion: number,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** Stops the run at its next step without writing anything more (a newer spec, or stop()). */
  abort(): void {
    this.aborted = true;
    this.halt();
  }

  /** A task of this service changed (or was deleted: `task` undefined with its id). */
  onTask(task: Task | undefined, id: string): void {
    if (task === undefined) this.monitor?.forget(id);
    else this.observe(task);
    this.wake(id);
    this.wake(null);
  }

  private observe(task: Task): void {
    if (this.monitor === undefined) return;
    this.monitor.observe(task);
    if (this.failedTooOften()) this.halt();
  }

  private failedTooOften(): boolean {
    return (this.monitor?.failures.length ?? 0) > this.maxFailures;
  }

  async execute(): Promise<void> {
    const setup = this.deps.store.view((tx) => this.setup(tx));
    if (setup === undefined || this.aborted) return;
    const { mode, config, slots } = setup;
    this.monitor = new FailureMonitor(this.deps.clock, Math.max(0, config.monitorMs));
    // PAUSE and ROLLBACK act once failures exceed the ratio; CONTINUE never does.
    if (config.failureAction !== UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE) {
      this.maxFailures = config.maxFailureRatio * slots.length;
    }
    this.deps.logger.info({ service: this.serviceId, mode, slots: slots.length }, `${mode} started`);
    const parallelism = config.parallelism === 0 ? Math.max(1, slots.length) : config.parallelism;
    for (let i = 0; i < slots.length && !this.halted; i += parallelism) {
      if (i > 0 && config.delayMs > 0) {
        await this.sleep(config.delayMs);
        if (this.halted) break;
      }
      const batch = slots.slice(i, i + parallelism);
      await Promise.all(batch.map((key) => this.updateSlot(key, config.order)));
    }
    if (!this.halted) await this.monitorPeriodEnd();
    if (this.aborted) return;
    const failure = this.monitor.failures.at(-1);
    if (failure !== undefined && this.failedTooOften()) {
      await this.onFailure(mode, config, failure);
    } else {
      await this.complete();
    }
  }

  private setup(tx: ReadTx): { mode: Mode; config: Readonly<UpdateConfig>; slots: SlotKey[] } | undefined {
    const service = tx.services.get(this.serviceId);
    if (service === undefined || service.specVersion !== this.specVersion) return undefined;
    const mode: Mode = service.updateStatus?.state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED ? 'rollback' : 'update';
    const config = mode === 'rollback' ? rollbackConfigOf(service) : updateConfigOf(service);
    return { mode, config, slots: slotsToUpdate(tx, service) };
  }

  /** Replaces one slot's task and waits until the new one is up, or failed, or the run halts. */
  private async updateSlot(key: SlotKey, order: UpdateOrder): Promise<void> {
    const replacement = await this.retryOnConflict(() =>
      this.deps.store.update((tx) => (this.halted ? undefined : this.replace(tx, key, order))),
    );
    if (replacement === undefined || this.halted) return;
    this.monitor?.watch(replacement.taskId);
    // It may have moved on before it was watched (a task that a failover left behind).
    const task = this.deps.store.view((tx) => tx.tasks.get(replacement.taskId));
    if (task !== undefined) this.observe(task);
    let up = false;
    await this.waitUntil(replacement.taskId, () => {
      const t = this.deps.store.view((tx) => tx.tasks.get(replacement.taskId));
      up = t !== undefined && isRunnable(t) && isUp(t);
      return up || t === undefined || !isRunnable(t) || isFinished(t);
    });
    if (!up || this.halted || !replacement.stopOthersWhenUp) return;
    // Every other task of the slot, not just those seen at the start: a restart may have added one.
    await this.retryOnConflict(() =>
      this.deps.store.update((tx) => {
        for (const other of slotTasks(tx, this.serviceId, replacement.slot)) {
          if (taskId(other) !== replacement.taskId && isRunnable(other)) shutdownTask(tx, other);
        }
      }),
    );
  }

  /**
   * Inside a transaction: the slot gets a task of the current spec. Stop-first shuts the old task
   * down in the same transaction and creates the new one READY while the old one may still run
   * (the restart supervisor starts it once the old one has stopped); start-first leaves the old
   * one until the new one is up. A slot that already has a task of the current spec (a restart,
   * or an update interrupted by a failover) keeps it.
   */
  private replace(tx: WriteTx, key: SlotKey, order: UpdateOrder): Replacement | undefined {
    const service = tx.services.get(this.serviceId);
    if (service === undefined || service.specVersion !== this.specVersion) {
      this.abort();
      return undefined;
    }
    const slot = groupSlots(slotTasks(tx, this.serviceId, key)).get(key);
    if (slot === undefined) return undefined;
    const dirty = new DirtyCheck(service);
    const clean = slot.runnable.filter((t) => !dirty.isDirty(t));
    if (clean.length > 0) {
      const keep = clean.find(isUp) ?? newest(clean)!;
      const others = slot.runnable.length > 1;
      return others || !isUp(keep) ? { slot: key, taskId: taskId(keep), stopOthersWhenUp: others } : undefined;
    }
    if (slot.runnable.length === 0 && !isGivenUp(slot)) return undefined; // scaled away meanwhile
    const placement = typeof key === 'number' ? { slot: key } : { nodeId: key };
    const now = this.now();
    if (order === UpdateOrder.UPDATE_ORDER_START_FIRST) {
      const task = newTask(service, placement, { now });
      tx.tasks.create(task);
      return { slot: key, taskId: taskId(task), stopOthersWhenUp: true };
    }
    for (const old of slot.runnable) shutdownTask(tx, old);
    const oldMayRun = slot.runnable.some(mayBeRunningOnNode);
    const desiredState = oldMayRun ? TaskState.TASK_STATE_READY : TaskState.TASK_STATE_RUNNING;
    const task = newTask(service, placement, { now, desiredState });
    tx.tasks.create(task);
    return { slot: key, taskId: taskId(task), stopOthersWhenUp: true };
  }

  private async onFailure(mode: Mode, config: Readonly<UpdateConfig>, failure: UpdateFailure): Promise<void> {
    const cause = `due to failure or early termination of task ${failure.taskId}: ${failure.reason}`;
    const rollback = mode === 'update' && config.failureAction === UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK;
    this.deps.logger.warn({ service: this.serviceId, task: failure.taskId, reason: failure.reason, rollback }, `${mode} failed`);
    await this.writeService((service) => {
      if (rollback && service.previousSpec !== undefined) {
        return {
          ...service,
          spec: service.previousSpec,
          previousSpec: service.spec,
          specVersion: service.specVersion + 1,
          updateStatus: {
            state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED,
            startedAt: this.now(),
            completedAt: 0,
            message: `update rolled back ${cause}`,
          },
        };
      }
      const paused = mode === 'rollback' ? UpdateState.UPDATE_STATE_ROLLBACK_PAUSED : UpdateState.UPDATE_STATE_PAUSED;
      return {
        ...service,
        updateStatus: {
          state: paused,
          startedAt: service.updateStatus?.startedAt ?? 0,
          completedAt: 0,
          message: `${mode} paused ${cause}`,
        },
      };
    });
  }

  private async complete(): Promise<void> {
    await this.writeService((service) => {
      const state = service.updateStatus?.state;
      let done: UpdateState;
      if (state === UpdateState.UPDATE_STATE_UPDATING) done = UpdateState.UPDATE_STATE_COMPLETED;
      else if (state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED) done = UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED;
      else return undefined;
      const message = done === UpdateState.UPDATE_STATE_COMPLETED ? 'update completed' : 'rollback completed';
      this.deps.logger.info({ service: this.serviceId }, message);
      return {
        ...service,
        updateStatus: { state: done, startedAt: service.updateStatus?.startedAt ?? 0, completedAt: this.now(), message },
      };
    });
  }

  /** Rewrites the service if it is still at this run's spec version (a newer spec has its own run). */
  private async writeService(change: (service: Service) => Service | undefined): Promise<void> {
    await this.retryOnConflict(() =>
      this.deps.store.update((tx) => {
        const service = tx.services.get(this.serviceId);
        if (this.aborted || service === undefined || service.specVersion !== this.specVersion) return;
        const next = change(service);
        if (next !== undefined) tx.services.update(next);
      }),
    );
  }

  /** After the last batch: wait until every new task has been up for the monitor period. */
  private async monitorPeriodEnd(): Promise<void> {
    for (;;) {
      const at = this.monitor?.settlesAt() ?? 'now';
      if (at === 'now' || this.halted) return;
      if (at === 'waiting') await this.waitUntil(null, () => this.monitor?.settlesAt() !== 'waiting');
      else await this.sleep(at - this.deps.clock.now());
    }
  }

  private halt(): void {
    this.halted = true;
    for (const key of [...this.wakers.keys()]) this.wake(key);
  }

  private wake(key: string | null): void {
    const wakers = this.wakers.get(key);
    if (wakers !== undefined) for (const waker of [...wakers]) waker();
  }

  /**
   * Resolves once `done()` holds or the run halts. `done` is checked now and again whenever the
   * task `about` changes (any task of the service, for null).
   */
  private waitUntil(about: string | null, done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      let wakers = this.wakers.get(about);
      if (wakers === undefined) {
        wakers = new Set();
        this.wakers.set(about, wakers);
      }
      const check = (): void => {
        if (!this.halted && !done()) return;
        wakers.delete(check);
        if (wakers.size === 0 && this.wakers.get(about) === wakers) this.wakers.delete(about);
        resolve();
      };
      wakers.add(check);
      check();
    });
  }

  /** Resolves after `ms` on the injected clock, or as soon as the run halts. */
  private sleep(ms: number): Promise<void> {
    const key = `sleep:${this.sleeps++}`;
    let elapsed = false;
    const timer: TimerHandle = this.deps.clock.setTimer(ms, () => {
      elapsed = true;
      this.wake(key);
    });
    return this.waitUntil(key, () => elapsed).finally(() => timer.cancel());
  }

  private async retryOnConflict<T>(attempt: () => Promise<T>): Promise<T | undefined> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof StoreConflictError) || i + 1 >= CONFLICT_RETRIES || this.aborted) throw err;
      }
    }
  }
}

/**
 * The slots a run has to visit, in the order it visits them: slots with a task of another spec
 * (or more than one task, left by an interrupted start-first update), and slots the restart policy
 * gave up on under the old spec (the new one deserves a try). Slots where nothing runs yet go
 * first: replacing them costs nothing.
 */
function slotsToUpdate(tx: ReadTx, service: Service): SlotKey[] {
  const id = service.meta?.id ?? '';
  const global = isGlobal(service);
  const replicas = replicaCount(service);
  const dirty = new DirtyCheck(service);
  const chosen: { key: SlotKey; running: boolean }[] = [];
  const slots = groupSlots(tx.tasks.byService(id).filter((t) => (t.slot === 0) === global));
  for (const slot of slots.values()) {
    if (!inService(tx, slot, global, replicas)) continue;
    const needs =
      slot.runnable.length > 0
        ? slot.runnable.length > 1 || slot.runnable.some((t) => dirty.isDirty(t))
        : isGivenUp(slot) && dirty.isDirty(newest(slot.tasks)!) && (!global || nodeAcceptsTasks(tx.nodes.get(String(slot.key))));
    if (!needs) continue;
    const running = slot.runnable.some((t) => observedState(t) === TaskState.TASK_STATE_RUNNING);
    chosen.push({ key: slot.key, running });
  }
  chosen.sort((a, b) => Number(a.running) - Number(b.running) || compareKeys(a.key, b.key));
  return chosen.map((c) => c.key);
}

/** Slots the orchestrators are about to remove (beyond the count, on a node losing its tasks) are left to them. */
function inService(tx: ReadTx, slot: Slot, global: boolean, replicas: number): boolean {
  if (global) return nodeKeepsTasks(tx.nodes.get(String(slot.key)));
  return Number(slot.key) <= replicas;
}

function slotTasks(tx: ReadTx, serviceId: string, key: SlotKey): Task[] {
  if (typeof key === 'number') return tx.tasks.bySlot(serviceId, key);
  return tx.tasks.byNode(key).filter((t) => t.serviceId === serviceId && t.slot === 0);
}

function compareKeys(a: SlotKey, b: SlotKey): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}
