/**
 * A FAKE standing in for the scheduler and the workers in orchestrator unit tests: it places
 * pending tasks on ready, active nodes (fewest runnable tasks first) and moves placed tasks through
 * their observed states as a worker would: READY when told to wait, RUNNING when told to run,
 * SHUTDOWN when told to stop. Tests make tasks fail, complete, turn unhealthy or healthy on command,
 * make new tasks fail (`failWhen`) or await a health verdict (`healthStartingWhen`), or make a node
 * unresponsive (its tasks stop moving).
 */
import { HealthState, TaskState, type Task } from '../../../../proto/gen/objects.js';
import type { ReadTx, Store, WriteTx } from '../../../store/types.js';
import { nodeAcceptsTasks } from '../nodes.js';
import { hasHealthcheck, isRunnable, observedState } from '../task.js';

export interface InjectedFailure {
  exitCode: number;
  err: string;
}

export class FakeTaskDriver {
  /** Tasks for which this returns a failure run, then fail on the next step (within any monitor period). */
  failWhen: ((task: Task) => InjectedFailure | undefined) | undefined;
  /** Tasks for which this returns true run but report UNHEALTHY instead of HEALTHY. */
  unhealthyWhen: ((task: Task) => boolean) | undefined;
  /**
   * Tasks for which this returns true run with health STARTING, whatever their spec (as a worker
   * reports an image's own healthcheck, or one re-checked after a restart), until `makeHealthy`.
   */
  healthStartingWhen: ((task: Task) => boolean) | undefined;
  private readonly unresponsive = new Set<string>();
  private unwatch: (() => void) | undefined;
  private scheduled = false;
  private running = false;
  private again = false;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  start(): void {
    this.unwatch = this.store.watch(() => this.kick());
    this.kick();
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  idle(): boolean {
    return !this.scheduled && !this.running;
  }

  /** The node's worker stops answering: its tasks keep their last reported state. */
  silence(nodeId: string): void {
    this.unresponsive.add(nodeId);
  }

  async fail(id: string, failure: InjectedFailure = { exitCode: 1, err: 'task failed' }): Promise<void> {
    await this.report(id, { state: TaskState.TASK_STATE_FAILED, exitCode: failure.exitCode, err: failure.err, message: 'failed' });
  }

  async complete(id: string): Promise<void> {
    await this.report(id, { state: TaskState.TASK_STATE_COMPLETE, exitCode: 0, message: 'finished' });
  }

  async makeUnhealthy(id: string): Promise<void> {
    await this.report(id, { health: HealthState.HEALTH_STATE_UNHEALTHY });
  }

  async makeHealthy(id: string): Promise<void> {
    await this.report(id, { health: HealthState.HEALTH_STATE_HEALTHY });
  }

  private async report(id: string, change: Partial<NonNullable<Task['status']>>): Promise<void> {
    await this.store.update((tx) => {
      const task = tx.tasks.get(id);
      if (task === undefined) throw new Error(`no task ${id}`);
      tx.tasks.update(this.withStatus(task, change));
    });
  }

  private kick(): void {
    if (this.unwatch === undefined) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pass();
    });
  }

  private async pass(): Promise<void> {
    this.running = true;
    try {
      await this.store.update((tx) => this.step(tx));
    } catch {
      // A conflict with a loop's write: the next pass sees the new state.
      this.again = true;
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }

  private step(tx: WriteTx): void {
    const load = new Map<string, number>();
    for (const task of tx.tasks.all()) if (task.nodeId !== '' && isRunnable(task)) load.set(task.nodeId, (load.get(task.nodeId) ?? 0) + 1);
    for (const task of tx.tasks.all()) {
      const next = this.advance(tx, task, load);
      if (next !== undefined) tx.tasks.update(next);
    }
  }

  private advance(tx: ReadTx, task: Task, load: Map<string, number>): Task | undefined {
    const state = observedState(task);
    if (state === TaskState.TASK_STATE_PENDING) {
      if (!isRunnable(task)) return undefined;
      const nodeId = task.nodeId !== '' ? task.nodeId : this.pickNode(tx, load);
      if (nodeId === undefined || !nodeAcceptsTasks(tx.nodes.get(nodeId))) return undefined;
      load.set(nodeId, (load.get(nodeId) ?? 0) + 1);
      return this.withStatus({ ...task, nodeId }, { state: TaskState.TASK_STATE_ASSIGNED, message: 'assigned' });
    }
    if (state < TaskState.TASK_STATE_ASSIGNED || state > TaskState.TASK_STATE_RUNNING) return undefined;
    if (this.unresponsive.has(task.nodeId)) return undefined;
    if (task.desiredState > TaskState.TASK_STATE_RUNNING) {
      return this.withStatus(task, { state: TaskState.TASK_STATE_SHUTDOWN, message: 'shutdown' });
    }
    if (task.desiredState === TaskState.TASK_STATE_READY) {
      return state < TaskState.TASK_STATE_READY ? this.withStatus(task, { state: TaskState.TASK_STATE_READY, message: 'prepared' }) : undefined;
    }
    if (state < TaskState.TASK_STATE_RUNNING) {
      const unhealthy = this.unhealthyWhen?.(task) === true;
      const health =
        this.healthStartingWhen?.(task) === true
          ? HealthState.HEALTH_STATE_STARTING
          : !hasHealthcheck(task.spec)
            ? HealthState.HEALTH_STATE_NONE
            : unhealthy
              ? HealthState.HEALTH_STATE_UNHEALTHY
              : HealthState.HEALTH_STATE_HEALTHY;
      return this.withStatus(task, { state: TaskState.TASK_STATE_RUNNING, message: 'started', health });
    }
    const failure = this.failWhen?.(task);
    if (failure !== undefined) {
      return this.withStatus(task, { state: TaskState.TASK_STATE_FAILED, exitCode: failure.exitCode, err: failure.err, message: 'failed' });
    }
    return undefined;
  }

  private pickNode(tx: ReadTx, load: Map<string, number>): string | undefined {
    let best: string | undefined;
    for (const node of tx.nodes.all()) {
      const id = node.meta?.id ?? '';
      if (!nodeAcceptsTasks(node)) continue;
      if (best === undefined || (load.get(id) ?? 0) < (load.get(best) ?? 0) || ((load.get(id) ?? 0) === (load.get(best) ?? 0) && id < best)) best = id;
    }
    return best;
  }

  private withStatus(task: Task, change: Partial<NonNullable<Task['status']>>): Task {
    const status = { ...task.status!, ...change, timestamp: this.now() };
    return { ...task, status };
  }
}
