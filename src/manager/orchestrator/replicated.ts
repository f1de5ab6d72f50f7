/**
 * The replicated orchestrator: keeps slots 1..replicas of every replicated service occupied by one
 * runnable task each. It creates tasks for missing slots, shuts down the slots beyond the count,
 * shuts down the tasks of deleted services, and moves tasks off nodes that went down or were
 * drained (through restartTask, without delay). It never changes a task's spec: that is the update
 * supervisor's job.
 */
import { TaskState, type Service, type Task } from '../../../proto/gen/objects.js';
import type { ReadTx, StoreEvent } from '../../store/types.js';
import { PassQueue, writeChunks, type LoopDeps } from './loop.js';
import { nodeKeepsTasks } from './nodes.js';
import { restartTask, shutdownTask } from './restart.js';
import { chooseSlotsToRemove } from './scale-down.js';
import { groupSlots, isGivenUp, type Slot } from './slots.js';
import { isFinished, isReplicated, isRunnable, newTask, replicaCount, taskId, withDesiredState } from './task.js';

type Change = { create: Task } | { shutdown: Task };

export class ReplicatedOrchestrator {
  private readonly services: PassQueue<string>;
  private readonly nodes: PassQueue<string>;
  private unwatch: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: LoopDeps) {
    this.now = deps.now ?? Date.now;
    this.services = PassQueue.perKey('replicated', deps.logger, (id) => this.reconcileService(id));
    this.nodes = PassQueue.perKey('replicated-nodes', deps.logger, (id) => this.moveTasksOffNode(id));
  }

  start(): void {
    if (this.unwatch !== undefined) return;
    this.unwatch = this.deps.store.watch((events) => this.onEvents(events));
    this.services.start();
    this.nodes.start();
    this.deps.store.view((tx) => {
      for (const service of tx.services.all()) if (isReplicated(service)) this.services.add(service.meta?.id ?? '');
      for (const node of tx.nodes.all()) if (!nodeKeepsTasks(node)) this.nodes.add(node.meta?.id ?? '');
      // Tasks whose service is gone (deleted while no leader was running the loops).
      for (const task of tx.tasks.all()) {
        if (task.slot > 0 && isRunnable(task) && tx.services.get(task.serviceId) === undefined) {
          this.services.add(task.serviceId);
        }
      }
    });
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.services.stop();
    this.nodes.stop();
  }

  idle(): boolean {
    return this.services.idle() && this.nodes.idle();
  }

  private onEvents(events: readonly StoreEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case 'service':
          if (isReplicated(event.object)) this.services.add(event.object.meta?.id ?? '');
          break;
        case 'task': {
          const task = event.object;
          if (task.slot === 0) break;
          // Only a change in what occupies a slot matters here; progress reports do not.
          const changed =
            event.action === 'delete' ? isRunnable(task) : event.action === 'update' && isRunnable(task) !== isRunnable(event.old);
          if (changed) this.services.add(task.serviceId);
          break;
        }
        case 'node':
          if (event.action === 'delete' || !nodeKeepsTasks(event.object)) this.nodes.add(event.object.meta?.id ?? '');
          break;
        default:
          break;
      }
    }
  }

  private async reconcileService(serviceId: string): Promise<void> {
    const changes = this.deps.store.view((tx) => this.plan(tx, serviceId));
    if (changes.length === 0) return;
    await writeChunks(this.deps.store, changes, (tx, chunk) => {
      for (const change of chunk) {
        if ('create' in change) tx.tasks.create(change.create);
        // The version read in the plan: a task that changed since makes the chunk conflict and the
        // service is reconciled again.
        else tx.tasks.update(withDesiredState(change.shutdown, TaskState.TASK_STATE_SHUTDOWN));
      }
    });
  }

  private plan(tx: ReadTx, serviceId: string): Change[] {
    const tasks = tx.tasks.byService(serviceId).filter((t) => t.slot > 0);
    const service = tx.services.get(serviceId);
    if (service === undefined) {
      return tasks.filter(isRunnable).map((t) => ({ shutdown: t }));
    }
    if (!isReplicated(service)) return [];
    const replicas = replicaCount(service);
    const slots = groupSlots(tasks);
    const live: Slot[] = [];
    const taken = new Set<number>();
    let givenUpInRange = 0;
    for (const slot of slots.values()) {
      const n = Number(slot.key);
      if (slot.runnable.length > 0) {
        live.push(slot);
        taken.add(n);
      } else if (isGivenUp(slot)) {
        taken.add(n);
        if (n <= replicas) givenUpInRange++;
      }
    }
    const changes: Change[] = [];
    const missing = replicas - live.length - givenUpInRange;
    if (missing > 0) {
      let slot = 0;
      for (let i = 0; i < missing; i++) {
        do slot++;
        while (taken.has(slot));
        changes.push({ create: newTask(service, { slot }, { now: this.now() }) });
      }
      this.deps.logger.info({ service: serviceId, created: missing }, 'creating tasks for missing slots');
    }
    const extra = live.length - replicas;
    if (extra > 0) {
      const runnableOn = (nodeId: string): number => tx.tasks.byNode(nodeId).filter(isRunnable).length;
      for (const slot of chooseSlotsToRemove(live, extra, runnableOn)) {
        for (const t of slot.runnable) changes.push({ shutdown: t });
      }
      this.deps.logger.info({ service: serviceId, removed: extra }, 'shutting down slots beyond the replica count');
    }
    return changes;
  }

  /** A node that went down, was drained or removed: its replicated tasks get new ones elsewhere. */
  private async moveTasksOffNode(nodeId: string): Promise<void> {
    const ids = this.deps.store.view((tx) => {
      if (nodeKeepsTasks(tx.nodes.get(nodeId))) return [];
      return tx.tasks
        .byNode(nodeId)
        .filter((t) => t.slot > 0 && isRunnable(t) && !isFinished(t))
        .map(taskId);
    });
    if (ids.length === 0) return;
    this.deps.logger.info({ node: nodeId, tasks: ids.length }, 'moving tasks off an unavailable node');
    await writeChunks(this.deps.store, ids, (tx, chunk) => {
      for (const id of chunk) {
        const task = tx.tasks.get(id);
        // Stopped tasks are the restart supervisor's (their restart policy decides).
        if (task === undefined || task.nodeId !== nodeId || !isRunnable(task) || isFinished(task)) continue;
        const service: Service | undefined = tx.services.get(task.serviceId);
        if (service === undefined) shutdownTask(tx, task);
        else restartTask(tx, service, task, { now: this.now(), delayed: false });
      }
    });
  }
}
