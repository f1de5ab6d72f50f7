/**
 * The scheduler loop (leader only): keeps a NodeInfo per node current from store events, collects
 * pending tasks into batches, plans their placement (schedule.ts) and writes the decisions in a
 * few large transactions. The only part of src/scheduler that touches the store.
 */
import { Node, TaskStatus, type Task } from '../../proto/gen/objects.js';
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { isPending } from '../store/index.js';
import { StoreConflictError, type Store, type StoreEvent } from '../store/types.js';
import { NodeInfo } from './node-info.js';
import { planPlacements } from './schedule.js';
import { isActiveOnNode, occupiesNode } from './task-states.js';

export interface SchedulerOptions {
  store: Store;
  logger: Logger;
  /** Times the batching window; default the system clock. */
  clock?: Clock;
  /** Wall clock for the timestamp of an assignment; default Date.now. */
  now?: () => number;
  /** A batch closes once no pending task arrived for this long (ms); default 5. */
  batchGapMs?: number;
  /** ...or once its first task has waited this long (ms), even while tasks keep coming; default 50. */
  batchMaxDelayMs?: number;
  /** Task updates per store transaction; default 500. */
  tasksPerTransaction?: number;
  /** Transactions of one pass written at a time; default 4. */
  transactionsInFlight?: number;
  /** After a write fails for a reason other than a conflict (e.g. not leader), the next pass waits this long (ms); default 1000. */
  failureBackoffMs?: number;
}

type EventOf<K extends StoreEvent['kind']> = Extract<StoreEvent, { kind: K }>;

export class Scheduler {
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly gapMs: number;
  private readonly maxDelayMs: number;
  private readonly perTransaction: number;
  private readonly inFlight: number;
  private readonly backoffMs: number;

  private readonly nodes = new Map<string, NodeInfo>();
  /** Tasks waiting for the next pass, by id, always their latest version. */
  private readonly pending = new Map<string, Task>();
  /** Tasks no node could take; they wait for a node to change or capacity to free up. */
  private readonly unschedulable = new Map<string, Task>();

  private unwatch: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private batchOpenedAt = 0;
  private lastArrivalAt = 0;
  /** No pass before this time: the last one failed to write, and retrying at once would only spin. */
  private backoffUntil = 0;
  /** The pass whose writes are in flight; passes never overlap (the store lags its proposals). */
  private pass: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: SchedulerOptions) {
    this.store = opts.store;
    this.logger = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.now = opts.now ?? Date.now;
    this.gapMs = opts.batchGapMs ?? 5;
    this.maxDelayMs = opts.batchMaxDelayMs ?? 50;
    this.perTransaction = opts.tasksPerTransaction ?? 500;
    this.inFlight = opts.transactionsInFlight ?? 4;
    this.backoffMs = opts.failureBackoffMs ?? 1000;
  }

  start(): void {
    // The view and the watch are set up in one synchronous step, so no change falls between them.
    this.load();
    const unwatch = this.store.watch((events) => this.onEvents(events));
    const unrestore = this.store.onRestore(() => {
      // A snapshot replaced the whole state without events: what was derived from events is void.
      this.load();
      if (this.pending.size > 0) this.wake();
    });
    this.unwatch = () => {
      unwatch();
      unrestore();
    };
    this.logger.info({ nodes: this.nodes.size, pending: this.pending.size }, 'scheduler started');
    if (this.pending.size > 0) this.wake();
  }

  /** (Re)builds the NodeInfos and the queue of pending tasks from the store as it is now. */
  private load(): void {
    this.nodes.clear();
    this.pending.clear();
    this.unschedulable.clear();
    this.store.view((tx) => {
      for (const node of tx.nodes.all()) {
        const info = new NodeInfo(node, tx.tasks.byNode(node.meta?.id ?? ''));
        this.nodes.set(info.id, info);
      }
      for (const task of tx.tasks.pending()) this.pending.set(task.meta?.id ?? '', task);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = undefined;
    this.timer?.cancel();
    this.timer = undefined;
    await this.pass;
  }

  private onEvents(events: readonly StoreEvent[]): void {
    let retry = false;
    for (const event of events) {
      if (event.kind === 'node') retry = this.onNodeEvent(event) || retry;
      else if (event.kind === 'task') retry = this.onTaskEvent(event) || retry;
    }
    if (retry) {
      for (const [id, task] of this.unschedulable) this.pending.set(id, task);
      this.unschedulable.clear();
    }
    if (this.pending.size > 0) this.wake();
  }

  /** Keeps the node's NodeInfo current; true when the change may let waiting tasks fit. */
  private onNodeEvent(event: EventOf<'node'>): boolean {
    const node = event.object;
    const id = node.meta?.id ?? '';
    if (event.action === 'delete') {
      this.nodes.delete(id);
      return false;
    }
    const info = this.nodes.get(id);
    if (info === undefined) {
      this.nodes.set(id, new NodeInfo(node, this.store.view((tx) => tx.tasks.byNode(id))));
      return true;
    }
    info.setNode(node);
    return event.action === 'update' && placementRelevantChange(event.old, node);
  }

  /** Keeps NodeInfos and the queues current; true when the change frees capacity on a node. */
  private onTaskEvent(event: EventOf<'task'>): boolean {
    const task = event.object;
    const id = task.meta?.id ?? '';
    if (event.action === 'delete') {
      this.nodes.get(task.nodeId)?.removeTask(id);
      this.pending.delete(id);
      this.unschedulable.delete(id);
      return occupiesNode(task);
    }
    const old = event.action === 'update' ? event.old : undefined;
    if (old !== undefined && old.nodeId !== '' && old.nodeId !== task.nodeId) this.nodes.get(old.nodeId)?.removeTask(id);
    if (task.nodeId !== '') this.nodes.get(task.nodeId)?.addTask(task);
    if (!isPending(task)) {
      this.pending.delete(id);
      this.unschedulable.delete(id);
    } else if (this.unschedulable.has(id)) {
      // Still waiting for room (often this is our own message write): keep waiting, with the new version.
      this.unschedulable.set(id, task);
    } else {
      this.pending.set(id, task);
    }
    return old !== undefined && ((occupiesNode(old) && !occupiesNode(task)) || (isActiveOnNode(old) && !isActiveOnNode(task)));
  }

  /**
   * A pending task arrived: open a batch, or keep it open. A batch closes after a short quiet gap,
   * or at the latest `maxDelayMs` after it opened, so a steady stream of tasks still gets placed.
   */
  private wake(): void {
    const now = this.clock.now();
    this.lastArrivalAt = now;
    if (this.stopped || this.timer !== undefined || this.pass !== undefined) return;
    this.batchOpenedAt = now;
    this.timer = this.clock.setTimer(this.gapMs, () => this.onBatchTimer());
  }

  private onBatchTimer(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    const quietFor = now - this.lastArrivalAt;
    let wait = 0;
    if (quietFor < this.gapMs && now - this.batchOpenedAt < this.maxDelayMs) {
      wait = Math.min(this.gapMs - quietFor, this.maxDelayMs - (now - this.batchOpenedAt));
    }
    wait = Math.max(wait, this.backoffUntil - now);
    if (wait > 0) {
      this.timer = this.clock.setTimer(wait, () => this.onBatchTimer());
      return;
    }
    this.pass = this.runPass()
      .catch((err: unknown) => this.logger.error({ err }, 'scheduler: pass failed'))
      .finally(() => {
        this.pass = undefined;
        if (this.pending.size > 0) this.wake();
      });
  }

  private async runPass(): Promise<void> {
    const tasks = [...this.pending.values()];
    this.pending.clear();
    const plan = planPlacements([...this.nodes.values()], tasks, this.now());

    const messages: Task[] = [];
    for (const { task, message } of plan.unschedulable) {
      this.unschedulable.set(task.meta?.id ?? '', task);
      // Rewriting an unchanged message would fill the log with no-op updates on every retry.
      if (task.status?.message !== message) messages.push({ ...task, status: TaskStatus.fromPartial({ ...task.status, message }) });
    }
    this.logger.debug({ assigned: plan.assigned.length, unschedulable: plan.unschedulable.length }, 'scheduling pass');
    const writes = [
      ...packByNode(plan.assigned, this.perTransaction).map((part) => (): Promise<void> => this.write(part, true)),
      ...chunk(messages, this.perTransaction).map((part) => (): Promise<void> => this.write(part, false)),
    ];
    await runLimited(writes, this.inFlight);
  }

  /**
   * Writes one transaction of task updates. If it fails (a task changed meanwhile, or this manager
   * stopped leading), none of it happened: placements are taken back from the NodeInfos and the
   * tasks are looked at again in the next pass, as the store now has them.
   */
  private async write(tasks: Task[], placements: boolean): Promise<void> {
    try {
      await this.store.update((tx) => {
        for (const task of tasks) tx.tasks.update(task);
      });
    } catch (err) {
      // A conflict is routine (another loop wrote one of the tasks first); anything else is not.
      const conflict = err instanceof StoreConflictError;
      this.logger[conflict ? 'debug' : 'warn']({ err, tasks: tasks.length }, 'scheduler: write failed; re-examining its tasks');
      if (!conflict) this.backoffUntil = this.clock.now() + this.backoffMs;
      for (const task of tasks) {
        const id = task.meta?.id ?? '';
        if (placements) this.nodes.get(task.nodeId)?.removeTask(id, task);
        this.requeue(id);
      }
    }
  }

  private requeue(id: string): void {
    const current = this.store.view((tx) => tx.tasks.get(id));
    this.unschedulable.delete(id);
    if (current !== undefined && isPending(current)) this.pending.set(id, current);
    else this.pending.delete(id);
  }
}

/** Whether a node update changed anything a filter or preference looks at (not, say, its address). */
function placementRelevantChange(before: Node, after: Node): boolean {
  const relevant = (n: Node): string => JSON.stringify([n.role, n.status?.state, n.spec, n.description]);
  return relevant(before) !== relevant(after);
}

/**
 * The placements as transactions of at most `size` tasks, each node's tasks together (unless one
 * node alone has more). A node's assignment set is then complete, and sent to it once, as soon as
 * its one transaction applies, rather than growing with every transaction of the pass.
 */
function packByNode(assigned: readonly { task: Task; nodeId: string }[], size: number): Task[][] {
  const byNode = new Map<string, Task[]>();
  for (const { task, nodeId } of assigned) {
    const tasks = byNode.get(nodeId);
    if (tasks === undefined) byNode.set(nodeId, [task]);
    else tasks.push(task);
  }
  const parts: Task[][] = [];
  let part: Task[] = [];
  for (const tasks of byNode.values()) {
    if (part.length > 0 && part.length + tasks.length > size) {
      parts.push(part);
      part = [];
    }
    for (const task of tasks) {
      if (part.length === size) {
        parts.push(part);
        part = [];
      }
      part.push(task);
    }
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/**
 * Runs the writes with at most `limit` in flight. Written all at once, a pass of 100,000 tasks
 * commits as one burst that Raft applies in a single synchronous stretch, and no node hears of
 * its tasks before the whole pass applied; a few at a time, the first nodes get their tasks (and
 * status reports get a turn) while the rest are still being written.
 */
async function runLimited(writes: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < writes.length) await writes[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, writes.length) }, worker));
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}
