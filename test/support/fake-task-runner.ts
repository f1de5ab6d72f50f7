/**
 * The node simulator's stand-in for containers: each assigned task climbs ASSIGNED → ACCEPTED →
 * PREPARING → READY → STARTING → RUNNING one step per `stepDelayMs`, waits at READY while its
 * desired state is READY, and stops (SHUTDOWN) when the managers want it down. Nothing runs; the
 * states are reported as a worker's would be. Tests fail, complete or sicken tasks on command.
 */
import { HealthState, TaskState, type Task, type TaskStatus } from '../../proto/gen/objects.js';

export type TaskPredicate = (task: Task) => boolean;

export interface FakeTaskRunnerOptions {
  stepDelayMs: number;
  /** False: tasks are only held, never advanced or reported (a node that only receives). */
  run: boolean;
  report: (taskId: string, status: TaskStatus) => void;
}

interface FakeTask {
  task: Task;
  state: TaskState;
  health: HealthState;
  /** What the pending timer will do; a shutdown replaces any other step, nothing replaces itself. */
  step: 'advance' | 'shutdown' | 'fail' | undefined;
  timer: NodeJS.Timeout | undefined;
}

const STEP_MESSAGES: Partial<Record<TaskState, string>> = {
  [TaskState.TASK_STATE_ACCEPTED]: 'accepted',
  [TaskState.TASK_STATE_PREPARING]: 'preparing',
  [TaskState.TASK_STATE_READY]: 'prepared',
  [TaskState.TASK_STATE_STARTING]: 'starting',
  [TaskState.TASK_STATE_RUNNING]: 'started',
};

export class FakeTaskRunner {
  private readonly tasks = new Map<string, FakeTask>();
  private readonly failRules: { predicate: TaskPredicate; afterMs: number }[] = [];

  constructor(private readonly opts: FakeTaskRunnerOptions) {}

  /** Takes the node's full assignment set: new tasks start, changed ones follow their desired state, absent ones are dropped. */
  assign(assignments: readonly Task[]): void {
    const seen = new Set(assignments.map((t) => t.meta?.id ?? ''));
    for (const id of this.tasks.keys()) if (!seen.has(id)) this.drop(id);
    for (const task of assignments) this.take(task);
  }

  /** Takes a change to the set: `updated` tasks are new or changed, `removed` ones are dropped. */
  applyChanges(updated: readonly Task[], removed: readonly string[]): void {
    for (const id of removed) this.drop(id);
    const gone = new Set(removed);
    for (const task of updated) if (!gone.has(task.meta?.id ?? '')) this.take(task);
  }

  private take(task: Task): void {
    const id = task.meta?.id ?? '';
    const known = this.tasks.get(id);
    if (known) {
      known.task = task;
      this.drive(known);
      return;
    }
    const state = Math.max(task.status?.state ?? TaskState.TASK_STATE_ASSIGNED, TaskState.TASK_STATE_ASSIGNED);
    const fresh: FakeTask = { task, state, health: task.status?.health ?? 0, step: undefined, timer: undefined };
    this.tasks.set(id, fresh);
    this.drive(fresh);
  }

  private drop(id: string): void {
    const t = this.tasks.get(id);
    if (!t) return;
    this.cancel(t);
    this.tasks.delete(id);
  }

  /** The task exits with an error (default exit code 1). */
  fail(taskId: string, how: { exitCode?: number; err?: string } = {}): void {
    const exitCode = how.exitCode ?? 1;
    this.finish(taskId, TaskState.TASK_STATE_FAILED, { exitCode, err: how.err ?? `task: non-zero exit (${exitCode})` });
  }

  /** The task exits cleanly. */
  complete(taskId: string): void {
    this.finish(taskId, TaskState.TASK_STATE_COMPLETE, { exitCode: 0, message: 'finished' });
  }

  /** The task's healthcheck starts failing: it is reported unhealthy, then fails as docker kills it. */
  makeUnhealthy(taskId: string): void {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== TaskState.TASK_STATE_RUNNING) return;
    t.health = HealthState.HEALTH_STATE_UNHEALTHY;
    this.emit(t, { message: 'unhealthy' });
    this.finish(taskId, TaskState.TASK_STATE_FAILED, { exitCode: 137, err: 'task: unhealthy container' });
  }

  /** Every task matching `predicate` that reaches RUNNING from now on fails `afterMs` later. */
  failNewTasks(predicate: TaskPredicate, afterMs = 100): void {
    this.failRules.push({ predicate, afterMs });
  }

  /** The observed state of every task this node holds. */
  states(): Map<string, TaskState> {
    return new Map([...this.tasks].map(([id, t]) => [id, t.state]));
  }

  size(): number {
    return this.tasks.size;
  }

  /** Stops every pending step (the node goes away). */
  clear(): void {
    for (const t of this.tasks.values()) this.cancel(t);
    this.tasks.clear();
  }

  private drive(t: FakeTask): void {
    if (!this.opts.run || t.state > TaskState.TASK_STATE_RUNNING) return;
    const desired = t.task.desiredState;
    if (desired >= TaskState.TASK_STATE_SHUTDOWN) {
      this.schedule(t, 'shutdown', this.opts.stepDelayMs, () => this.move(t, TaskState.TASK_STATE_SHUTDOWN, { message: 'shutdown' }));
      return;
    }
    if (t.state === TaskState.TASK_STATE_RUNNING) return;
    const next = (t.state + 1) as TaskState;
    // Desired READY: prepare, but start only once the managers say RUNNING.
    if (next > TaskState.TASK_STATE_READY && desired < TaskState.TASK_STATE_RUNNING) return;
    this.schedule(t, 'advance', this.opts.stepDelayMs, () => {
      this.move(t, next, { message: STEP_MESSAGES[next] ?? '' });
      if (next === TaskState.TASK_STATE_RUNNING) this.started(t);
      else this.drive(t);
    });
  }

  private started(t: FakeTask): void {
    const rule = this.failRules.find((r) => r.predicate(t.task));
    if (!rule) return;
    const id = t.task.meta?.id ?? '';
    this.schedule(t, 'fail', rule.afterMs, () => this.fail(id));
  }

  private finish(taskId: string, state: TaskState, detail: Partial<TaskStatus>): void {
    const t = this.tasks.get(taskId);
    if (!t || t.state > TaskState.TASK_STATE_RUNNING) return;
    this.cancel(t);
    this.move(t, state, detail);
  }

  private move(t: FakeTask, state: TaskState, detail: Partial<TaskStatus>): void {
    t.state = state;
    if (state === TaskState.TASK_STATE_RUNNING && hasHealthcheck(t.task)) t.health = HealthState.HEALTH_STATE_HEALTHY;
    this.emit(t, detail);
  }

  private emit(t: FakeTask, detail: Partial<TaskStatus>): void {
    const id = t.task.meta?.id ?? '';
    const started = t.state >= TaskState.TASK_STATE_STARTING;
    this.opts.report(id, {
      state: t.state,
      timestamp: Date.now(),
      message: '',
      err: '',
      exitCode: 0,
      health: t.health,
      containerId: started ? `fake-${id.slice(0, 12)}` : '',
      pid: 0,
      ...detail,
    });
  }

  private schedule(t: FakeTask, step: NonNullable<FakeTask['step']>, delayMs: number, fn: () => void): void {
    if (t.step === step || t.step === 'shutdown') return;
    this.cancel(t);
    t.step = step;
    t.timer = setTimeout(() => {
      t.step = undefined;
      t.timer = undefined;
      fn();
    }, delayMs);
  }

  private cancel(t: FakeTask): void {
    if (t.timer) clearTimeout(t.timer);
    t.timer = undefined;
    t.step = undefined;
  }
}

function hasHealthcheck(task: Task): boolean {
  const test = task.spec?.container?.healthcheck?.test ?? [];
  return test.length > 0 && test[0] !== 'NONE';
}
