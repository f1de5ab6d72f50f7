/**
 * The task reaper: deletes task history. Each slot (each service and node, for a global service)
 * keeps its newest `cluster.spec.taskHistoryRetentionLimit` dead tasks; slots left behind by a
 * scale-down lose theirs; a deleted service loses every task once it has stopped (or was never
 * placed). Deletes go out in few transactions.
 *
 * Two things are kept whatever the limit says, because other loops read them: the latest task of a
 * slot that has no runnable task (it says whether the restart policy gave the slot up), and as many
 * dead tasks as the restart policy's max attempts need to be counted.
 */
import { TaskState, type Task } from '../../../proto/gen/objects.js';
import type { ReadTx, StoreEvent } from '../../store/types.js';
import { DEFAULT_TASK_HISTORY_RETENTION_LIMIT } from '../cluster-object.js';
import { restartPolicyOf } from './defaults.js';
import { PassQueue, writeChunks, type LoopDeps } from './loop.js';
import { groupSlots, slotKeyOf, type Slot } from './slots.js';
import { compareNewestFirst, isFinished, isReplicated, isRunnable, observedState, replicaCount } from './task.js';

/** What to look at: every slot of a service, or one slot of it. */
interface ReapTarget {
  serviceId: string;
  /** A replicated slot number or, for a global service, a node id; absent: the whole service. */
  slot?: number | string;
}

export class TaskReaper {
  private readonly queue: PassQueue<string>;
  private unwatch: (() => void) | undefined;

  constructor(private readonly deps: LoopDeps) {
    this.queue = new PassQueue('reaper', deps.logger, (keys) => this.reap(keys));
  }

  start(): void {
    if (this.unwatch !== undefined) return;
    this.unwatch = this.deps.store.watch((events) => this.onEvents(events));
    this.queue.start();
    this.sweepAll();
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.queue.stop();
  }

  idle(): boolean {
    return this.queue.idle();
  }

  private sweepAll(): void {
    this.deps.store.view((tx) => {
      const services = new Set<string>();
      for (const task of tx.tasks.all()) services.add(task.serviceId);
      for (const id of services) this.queue.add(encodeTarget({ serviceId: id }));
    });
  }

  private onEvents(events: readonly StoreEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case 'task':
          // A slot's history grows when one of its tasks stops being wanted or stops running.
          if (event.action === 'update' && becameHistory(event.old, event.object)) {
            this.queue.add(encodeTarget({ serviceId: event.object.serviceId, slot: slotKeyOf(event.object) }));
          }
          break;
        case 'service':
          // Deleted, or scaled down: whole slots may be gone.
          this.queue.add(encodeTarget({ serviceId: event.object.meta?.id ?? '' }));
          break;
        case 'node':
          // Tasks on a removed node will never report stopping: they are history now.
          if (event.action === 'delete') this.queueNodeTasks(event.object.meta?.id ?? '');
          break;
        case 'cluster':
          this.sweepAll();
          break;
        default:
          break;
      }
    }
  }

  private queueNodeTasks(nodeId: string): void {
    this.deps.store.view((tx) => {
      for (const task of tx.tasks.byNode(nodeId)) {
        if (!isRunnable(task)) this.queue.add(encodeTarget({ serviceId: task.serviceId, slot: slotKeyOf(task) }));
      }
    });
  }

  /** One pass: every target's doomed tasks, deleted together in few transactions. */
  private async reap(keys: string[]): Promise<void> {
    const doomed = this.deps.store.view((tx) => {
      const retention = retentionLimit(tx);
      const seen = new Set<string>();
      const out: Task[] = [];
      for (const key of keys) {
        for (const task of this.plan(tx, decodeTarget(key), retention)) {
          const id = task.meta?.id ?? '';
          if (seen.has(id)) continue;
          seen.add(id);
          out.push(task);
        }
      }
      return out;
    });
    if (doomed.length === 0) return;
    this.deps.logger.debug({ tasks: doomed.length }, 'deleting task history');
    // Each delete names the version read: a task that changed since makes its chunk conflict, and
    // the pass's keys are looked at again.
    await writeChunks(this.deps.store, doomed, (tx, chunk) => {
      for (const task of chunk) tx.tasks.delete(task);
    });
  }

  private plan(tx: ReadTx, target: ReapTarget, retention: number): Task[] {
    const service = tx.services.get(target.serviceId);
    const tasks = tasksOf(tx, target);
    if (service === undefined) return tasks.filter((t) => isHistory(tx, t) || neverPlaced(t));
    const replicas = isReplicated(service) ? replicaCount(service) : Infinity;
    const doomed: Task[] = [];
    for (const slot of groupSlots(tasks).values()) doomed.push(...planSlot(tx, slot, retention, replicas));
    return doomed;
  }
}

function planSlot(tx: ReadTx, slot: Slot, retention: number, replicas: number): Task[] {
  const history = slot.tasks.filter((t) => isHistory(tx, t)).sort(compareNewestFirst);
  if (history.length === 0) return [];
  // A replicated slot beyond the replica count with nothing running was scaled away.
  if (typeof slot.key === 'number' && slot.key > replicas && slot.runnable.length === 0) return history;
  const latest = [...slot.tasks].sort(compareNewestFirst)[0]!;
  const maxAttempts = restartPolicyOf(latest.spec).maxAttempts;
  const keep = Math.max(retention, maxAttempts > 0 ? maxAttempts + 1 : 0, slot.runnable.length === 0 ? 1 : 0);
  return history.slice(keep);
}

function tasksOf(tx: ReadTx, target: ReapTarget): Task[] {
  if (target.slot === undefined) return tx.tasks.byService(target.serviceId);
  if (typeof target.slot === 'number') return tx.tasks.bySlot(target.serviceId, target.slot);
  return tx.tasks.byNode(target.slot).filter((t) => t.serviceId === target.serviceId && t.slot === 0);
}

function retentionLimit(tx: ReadTx): number {
  const cluster = tx.clusters.all()[0];
  return cluster?.spec?.taskHistoryRetentionLimit ?? DEFAULT_TASK_HISTORY_RETENTION_LIMIT;
}

/**
 * No longer wanted and no longer running (or never placed, or its node is gone). A task told to
 * stop that its worker has not yet reported stopped is not history yet.
 */
function isHistory(tx: ReadTx, task: Task): boolean {
  if (isRunnable(task)) return false;
  return isFinished(task) || neverPlaced(task) || tx.nodes.get(task.nodeId) === undefined;
}

function neverPlaced(task: Task): boolean {
  return observedState(task) < TaskState.TASK_STATE_ASSIGNED;
}

function becameHistory(old: Task, task: Task): boolean {
  return (isRunnable(old) && !isRunnable(task)) || (!isFinished(old) && isFinished(task));
}

function encodeTarget(target: ReapTarget): string {
  if (target.slot === undefined) return target.serviceId;
  const slot = typeof target.slot === 'number' ? `s${target.slot}` : `n${target.slot}`;
  return `${target.serviceId}\u0000${slot}`;
}

function decodeTarget(key: string): ReapTarget {
  const at = key.indexOf('\u0000');
  if (at === -1) return { serviceId: key };
  const slot = key.slice(at + 2);
  return { serviceId: key.slice(0, at), slot: key[at + 1] === 's' ? Number(slot) : slot };
}
