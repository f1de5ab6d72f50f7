/**
 * The allocator's leader loop. On start it rebuilds the allocator from the store and publishes it
 * for the control API (in one synchronous step with its watch, so no change falls in between);
 * then it follows the store:
 * - committed changes release what objects let go of (releases.ts);
 * - NEW tasks get their addresses and move to PENDING (task-allocation.ts);
 * - nodes whose tasks changed get or lose their own attachments (node-attachments.ts), and every
 *   node that is not down its ingress attachment while any service publishes ingress ports (so
 *   when the first service starts publishing, or the last stops, every node is looked at again);
 * - services whose endpoint no longer fits their spec (an automatic rollback) get it redone.
 * Work is collected from events and written in passes of a few large transactions, as the
 * scheduler does. A write that conflicted is undone in memory and retried on the next pass.
 */
import type { Node, Service, Task } from '../../../proto/gen/objects.js';
import { TaskState } from '../../../proto/gen/objects.js';
import type { Logger } from '../../common/logger.js';
import { NotLeaderError, StoreConflictError, type ReadTx, type Store, type StoreEvent, type WriteTx } from '../../store/types.js';
import { PassQueue, TASKS_PER_TRANSACTION } from '../orchestrator/loop.js';
import { AllocationError } from './allocation-error.js';
import type { AllocatorAccess } from './allocator-access.js';
import type { AllocatorState } from './allocator-state.js';
import { allocateEndpoint, endpointFits } from './endpoint.js';
import { findIngress, publishesIngress } from './needs-allocation.js';
import { inMesh, reconcileAttachments } from './node-attachments.js';
import { rebuildAllocator } from './rebuild.js';
import { releaseFor } from './releases.js';
import { allocateTask } from './task-allocation.js';

export interface AllocatorLoopDeps {
  store: Store;
  access: AllocatorAccess;
  logger: Logger;
  /** Wall clock in ms, for task status timestamps. */
  now?: () => number;
}

/** One object's new version, the key it was planned for, and how to give back what it took. */
interface Planned<T> {
  key: string;
  object: T;
  undo: () => void;
}

type Plans = { tasks: Planned<Task>[]; nodes: Planned<Node>[]; services: Planned<Service>[] };

/** The key that stands for every node: whether the routing mesh is wanted may have changed. */
const MESH_KEY = 'm:';

export class AllocatorLoop {
  private state: AllocatorState | undefined;
  private readonly queue: PassQueue<string>;
  /** Keys that found no free address; tried again when something is released. */
  private readonly blocked = new Set<string>();
  private unwatch: (() => void) | undefined;

  constructor(private readonly deps: AllocatorLoopDeps) {
    this.queue = new PassQueue('allocator', deps.logger, (keys) => this.pass(keys));
  }

  start(): void {
    if (this.unwatch !== undefined) return;
    this.queue.start();
    this.load();
    const unwatch = this.deps.store.watch((events) => this.onEvents(events));
    // A snapshot replaced the state without events: whatever was derived from them is void.
    const unrestore = this.deps.store.onRestore(() => this.load());
    this.unwatch = () => {
      unwatch();
      unrestore();
    };
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.queue.stop();
    if (this.state !== undefined) this.deps.access.withdraw(this.state);
    this.state = undefined;
  }

  idle(): boolean {
    return this.queue.idle();
  }

  private load(): void {
    this.blocked.clear();
    this.deps.store.view((tx) => {
      const { state, problems } = rebuildAllocator(tx);
      for (const problem of problems) this.deps.logger.warn({ problem }, 'allocator: inconsistent allocation found in the store');
      if (this.state !== undefined) this.deps.access.withdraw(this.state);
      this.state = state;
      this.deps.access.publish(state);
      for (const task of tx.tasks.all()) if (awaitsAllocation(task)) this.queue.add(taskKey(task));
      for (const node of tx.nodes.all()) this.queue.add(`n:${node.meta?.id ?? ''}`);
      const ingress = findIngress(tx)?.meta?.id;
      for (const service of tx.services.all()) if (!endpointFits(service, ingress)) this.queue.add(`s:${service.meta?.id ?? ''}`);
    });
    this.deps.logger.info('allocator: rebuilt from the store');
  }

  private onEvents(events: readonly StoreEvent[]): void {
    const state = this.state;
    if (state === undefined) return;
    let freed = false;
    for (const event of events) {
      freed = releaseFor(state, event) || freed;
      if (event.kind === 'task') this.onTaskEvent(event.object, event.action === 'update' ? event.old : undefined, event.action === 'delete');
      else if (event.kind === 'service') this.onServiceEvent(event.object, event.action === 'update' ? event.old : undefined, event.action === 'delete');
      else if (event.kind === 'node') this.onNodeEvent(event.object, event.action === 'update' ? event.old : undefined, event.action === 'delete');
    }
    if (freed && this.blocked.size > 0) {
      for (const key of this.blocked) this.queue.add(key);
      this.blocked.clear();
    }
  }

  private onTaskEvent(task: Task, old: Task | undefined, deleted: boolean): void {
    if (!deleted && awaitsAllocation(task)) this.queue.add(taskKey(task));
    // The node's attachments follow the tasks on it that hold addresses.
    if (task.networks.length === 0) return;
    if (deleted || old === undefined || old.nodeId !== task.nodeId || mayRun(old) !== mayRun(task) || old.networks.length !== task.networks.length) {
      if (task.nodeId !== '') this.queue.add(`n:${task.nodeId}`);
      if (old !== undefined && old.nodeId !== '' && old.nodeId !== task.nodeId) this.queue.add(`n:${old.nodeId}`);
    }
  }

  private onServiceEvent(service: Service, old: Service | undefined, deleted: boolean): void {
    if (!deleted) this.queue.add(`s:${service.meta?.id ?? ''}`);
    // Whether any service publishes is decided in the pass; here only whether this one changed
    // its mind, which is rare enough that every node is looked at again then.
    const before = deleted ? publishesIngress(service.spec) : old !== undefined && publishesIngress(old.spec);
    const after = !deleted && publishesIngress(service.spec);
    if (before !== after) this.queue.add(MESH_KEY);
  }

  private onNodeEvent(node: Node, old: Node | undefined, deleted: boolean): void {
    // A deleted node's attachments are released with it (releases.ts); a new node or one that
    // went down or came back may need its ingress attachment given or taken.
    if (deleted) return;
    if (old === undefined || inMesh(old) !== inMesh(node)) this.queue.add(`n:${node.meta?.id ?? ''}`);
  }

  private async pass(queued: string[]): Promise<void> {
    const state = this.state;
    if (state === undefined) return;
    const now = (this.deps.now ?? Date.now)();
    const plans: Plans = { tasks: [], nodes: [], services: [] };
    this.deps.store.view((tx) => {
      const ingress = findIngress(tx)?.meta?.id;
      const meshIngressId = tx.services.all().some((s) => publishesIngress(s.spec)) ? ingress : undefined;
      const keys = new Set(queued);
      if (keys.delete(MESH_KEY)) for (const node of tx.nodes.all()) keys.add(`n:${node.meta?.id ?? ''}`);
      for (const key of keys) {
        try {
          this.plan(tx, state, key, ingress, meshIngressId, now, plans);
        } catch (err) {
          if (!(err instanceof AllocationError)) throw err;
          this.blocked.add(key);
          this.deps.logger.warn({ key, err: err.message }, 'allocator: cannot allocate yet');
          const task = key.startsWith('t:') ? tx.tasks.get(key.slice(2)) : undefined;
          // Say why on the task (once: the same message is not written again).
          if (task !== undefined && task.status?.message !== err.message) {
            plans.tasks.push({ key, object: { ...task, status: { ...task.status!, message: err.message } }, undo: () => {} });
          }
        }
      }
    });
    await Promise.all([
      this.write(plans.tasks, (tx, task) => tx.tasks.update(task)),
      this.write(plans.nodes, (tx, node) => tx.nodes.update(node)),
      this.write(plans.services, (tx, service) => tx.services.update(service)),
    ]);
  }

  private plan(tx: ReadTx, state: AllocatorState, key: string, ingress: string | undefined, meshIngressId: string | undefined, now: number, plans: Plans): void {
    const id = key.slice(2);
    if (key.startsWith('t:')) {
      const task = tx.tasks.get(id);
      if (task === undefined || !awaitsAllocation(task)) return;
      const service = tx.services.get(task.serviceId);
      // A task of a deleted service is being shut down by the orchestrator: nothing to give it.
      if (service === undefined) return;
      const { task: next, undo } = allocateTask(state, task, service, ingress, now);
      plans.tasks.push({ key, object: next, undo });
    } else if (key.startsWith('n:')) {
      const node = tx.nodes.get(id);
      const planned = node && reconcileAttachments(state, node, tx.tasks.byNode(id), meshIngressId);
      if (planned !== undefined) plans.nodes.push({ key, object: planned.node, undo: planned.undo });
    } else {
      const service = tx.services.get(id);
      if (service === undefined || endpointFits(service, ingress)) return;
      const nameOf = (serviceId: string) => tx.services.get(serviceId)?.spec?.annotations?.name ?? serviceId;
      const { endpoint, undo } = allocateEndpoint(state, { serviceId: id, spec: service.spec!, current: service.endpoint, ingressNetworkId: ingress, nameOf });
      plans.services.push({ key, object: { ...service, endpoint }, undo });
    }
  }

  /** Writes in bounded transactions; a chunk that did not apply gives back what it took. */
  private async write<T>(planned: Planned<T>[], apply: (tx: WriteTx, object: T) => void): Promise<void> {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < planned.length; i += TASKS_PER_TRANSACTION) {
      const chunk = planned.slice(i, i + TASKS_PER_TRANSACTION);
      const write = this.deps.store.update((tx) => {
        for (const p of chunk) apply(tx, p.object);
      });
      writes.push(
        write.catch((err: unknown) => {
          // Only failures that guarantee nothing was written may give addresses back; after an
          // uncertain one (a timeout) they stay taken until the next leader rebuilds from the store.
          if (!(err instanceof StoreConflictError) && !(err instanceof NotLeaderError)) {
            this.deps.logger.error({ err }, 'allocator: write failed');
            return;
          }
          for (const p of chunk) p.undo();
          if (err instanceof StoreConflictError) for (const p of chunk) this.queue.add(p.key);
        }),
      );
    }
    await Promise.all(writes);
  }
}

/** NEW and still wanted: the orchestrators made it for a service with networks. */
function awaitsAllocation(task: Task): boolean {
  return task.status?.state === TaskState.TASK_STATE_NEW && task.desiredState <= TaskState.TASK_STATE_RUNNING;
}

function mayRun(task: Task): boolean {
  return (task.status?.state ?? TaskState.TASK_STATE_NEW) <= TaskState.TASK_STATE_RUNNING;
}

function taskKey(task: Task): string {
  return `t:${task.meta?.id ?? ''}`;
}
