/**
 * The global orchestrator: one runnable task of every global service on every eligible node (ready,
 * active, placement constraints met). Follows nodes as they come, are drained, go down, leave, or
 * change labels; a node that may keep tasks but not get new ones (paused, not ready yet) keeps what
 * it has. Tasks are created with their node set and status PENDING; the scheduler still checks and
 * assigns them.
 */
import { TaskState, type Node, type Service, type Task } from '../../../proto/gen/objects.js';
import type { Logger } from '../../common/logger.js';
import { matchesConstraints, parseConstraints, type Constraint } from '../../scheduler/constraints.js';
import type { ReadTx, StoreEvent } from '../../store/types.js';
import { PassQueue, writeChunks, type LoopDeps } from './loop.js';
import { nodeAcceptsTasks, nodeKeepsTasks } from './nodes.js';
import { groupSlots, isGivenUp, type Slot } from './slots.js';
import { isGlobal, isRunnable, newTask, withDesiredState } from './task.js';

type Change = { create: Task } | { shutdown: Task };

export class GlobalOrchestrator {
  /** Keys are `s:<service id>` or `n:<node id>`; one pass plans them all from one view. */
  private readonly queue: PassQueue<string>;
  private unwatch: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: LoopDeps) {
    this.now = deps.now ?? Date.now;
    this.queue = new PassQueue('global', deps.logger, (keys) => this.pass(keys));
  }

  start(): void {
    if (this.unwatch !== undefined) return;
    this.unwatch = this.deps.store.watch((events) => this.onEvents(events));
    this.queue.start();
    this.deps.store.view((tx) => {
      for (const service of tx.services.all()) if (isGlobal(service)) this.queue.add(serviceKey(service.meta?.id ?? ''));
      for (const task of tx.tasks.all()) {
        if (task.slot === 0 && isRunnable(task) && tx.services.get(task.serviceId) === undefined) {
          this.queue.add(serviceKey(task.serviceId));
        }
      }
    });
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.queue.stop();
  }

  idle(): boolean {
    return this.queue.idle();
  }

  private onEvents(events: readonly StoreEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case 'service':
          if (isGlobal(event.object)) this.queue.add(serviceKey(event.object.meta?.id ?? ''));
          break;
        case 'node':
          this.queue.add(nodeKey(event.object.meta?.id ?? ''));
          break;
        case 'task': {
          const task = event.object;
          if (task.slot !== 0) break;
          const changed =
            event.action === 'delete' ? isRunnable(task) : event.action === 'update' && isRunnable(task) !== isRunnable(event.old);
          if (changed) this.queue.add(serviceKey(task.serviceId));
          break;
        }
        default:
          break;
      }
    }
  }

  /**
   * Plans every key from one view, so that a service key and a node key naming the same node do
   * not both create its task (creates carry no version to conflict on).
   */
  private async pass(keys: string[]): Promise<void> {
    const changes = this.deps.store.view((tx) => {
      const creates = new Map<string, Change>();
      const shutdowns = new Map<string, Change>();
      for (const key of keys) {
        const id = key.slice(2);
        const planned = key.startsWith('s:') ? this.planService(tx, id) : this.planNode(tx, id);
        for (const change of planned) {
          if ('create' in change) creates.set(`${change.create.serviceId}\u0000${change.create.nodeId}`, change);
          else shutdowns.set(change.shutdown.meta?.id ?? '', change);
        }
      }
      return [...creates.values(), ...shutdowns.values()];
    });
    if (changes.length === 0) return;
    await writeChunks(this.deps.store, changes, (tx, chunk) => {
      for (const change of chunk) {
        if ('create' in change) tx.tasks.create(change.create);
        else tx.tasks.update(withDesiredState(change.shutdown, TaskState.TASK_STATE_SHUTDOWN));
      }
    });
  }

  private planService(tx: ReadTx, serviceId: string): Change[] {
    const service = tx.services.get(serviceId);
    const slots = groupSlots(tx.tasks.byService(serviceId).filter((t) => t.slot === 0));
    if (service === undefined) return [...slots.values()].flatMap((slot) => slot.runnable.map((t) => ({ shutdown: t })));
    if (!isGlobal(service)) return [];
    const constraints = this.constraintsOf(service, this.deps.logger);
    const changes: Change[] = [];
    for (const node of tx.nodes.all()) {
      const nodeId = node.meta?.id ?? '';
      changes.push(...this.planOne(service, constraints, node, slots.get(nodeId)));
      slots.delete(nodeId);
    }
    // What is left sits on nodes that no longer exist.
    for (const slot of slots.values()) changes.push(...this.planOne(service, constraints, undefined, slot));
    return changes;
  }

  private planNode(tx: ReadTx, nodeId: string): Change[] {
    const node = tx.nodes.get(nodeId);
    const byService = new Map<string, Task[]>();
    for (const task of tx.tasks.byNode(nodeId)) {
      if (task.slot !== 0) continue;
      const list = byService.get(task.serviceId);
      if (list === undefined) byService.set(task.serviceId, [task]);
      else list.push(task);
    }
    const changes: Change[] = [];
    for (const service of tx.services.all()) {
      if (!isGlobal(service)) continue;
      const id = service.meta?.id ?? '';
      const slot = groupSlots(byService.get(id) ?? []).get(nodeId);
      changes.push(...this.planOne(service, this.constraintsOf(service, this.deps.logger), node, slot));
    }
    return changes;
  }

  /** What one node needs for one service: a task if it has none and may get one, none if it may not keep them. */
  private planOne(service: Service, constraints: Constraint[] | undefined, node: Node | undefined, slot: Slot | undefined): Change[] {
    const runnable = slot?.runnable ?? [];
    const fits = node !== undefined && constraints !== undefined && matchesConstraints(node, constraints);
    if (!fits || !nodeKeepsTasks(node)) return runnable.map((t) => ({ shutdown: t }));
    if (runnable.length > 0 || !nodeAcceptsTasks(node)) return [];
    if (slot !== undefined && isGivenUp(slot)) return [];
    return [{ create: newTask(service, { nodeId: node.meta?.id ?? '' }, { now: this.now() }) }];
  }

  /** The service's parsed constraints; undefined (fits nowhere) if they do not parse. */
  private constraintsOf(service: Service, logger: Logger): Constraint[] | undefined {
    try {
      return parseConstraints(service.spec?.task?.placement?.constraints ?? []);
    } catch (err) {
      logger.warn({ service: service.meta?.id, err: (err as Error).message }, 'global service has invalid constraints');
      return undefined;
    }
  }
}

function serviceKey(id: string): string {
  return `s:${id}`;
}

function nodeKey(id: string): string {
  return `n:${id}`;
}
