/**
 * One task on this node: drives it through the executor towards what the managers want, and
 * reports each state it reaches. Observed states only move forward:
 *
 *   ASSIGNED → ACCEPTED → PREPARING → READY → STARTING → RUNNING → COMPLETE | FAILED
 *                            └→ REJECTED (prepare failed)      any state → SHUTDOWN (told to stop)
 *
 * A desired state of READY prepares the task without starting it; while it prepares, the executor's
 * progress (an image pull) is the PREPARING status's message. Whether the task has a healthcheck is
 * the executor's word, asked as soon as the process runs (`health`: NONE means none), since only it
 * knows the check that runs: the spec's, or the image's own HEALTHCHECK (docker's rule). A task with
 * one stays STARTING until its first healthy verdict, and fails once unhealthy. A desired state past RUNNING
 * stops it (with its stop grace period) and reports SHUTDOWN. Once the task leaves the node's
 * assignments it is stopped if need be and removed from the executor.
 *
 * The controller begins by asking the executor what it already has for the task (`inspect`), so an
 * agent that restarted re-attaches to a running process rather than starting another. Executor
 * calls for one task happen one at a time; nextAction() decides the next from the current view.
 */
import { HealthState, TaskState, type Task, type TaskStatus } from '../../proto/gen/objects.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { stopGraceMs, type Executor, type TaskExit } from './executor.js';

export interface TaskControllerDeps {
  executor: Executor;
  /** Receives every status the controller gives its task, in order. */
  report: (taskId: string, status: TaskStatus) => void;
  clock: Clock;
  /** Wall clock for status timestamps. */
  now: () => number;
  logger: Logger;
  /** How often the executor is asked for a health-checked task's health. */
  healthPollMs: number;
  /** Pause before retrying a shutdown or removal the executor failed. */
  retryMs: number;
  /**
   * Pause between being told to stop and stopping, for a running task with network addresses
   * (default DRAIN_MS): the managers have taken it out of every node's load balancing, and the
   * nodes need a moment to apply that before its container goes, or clients of its service would
   * have connections refused (Docker Swarm pauses likewise).
   */
  drainMs?: number;
}

export const DRAIN_MS = 2000;

/** What the controller knows when it chooses its next step. */
export interface ControllerView {
  state: TaskState;
  desired: TaskState;
  /** A process of the task may be running (it was started or found running, and has not exited). */
  hasProcess: boolean;
  /** The task left the node's assignments. */
  removing: boolean;
}

export type ControllerAction = 'accept' | 'prepare' | 'start' | 'stop' | 'remove' | 'idle';

/**
 * The next step. `stop` shuts down any process and reports SHUTDOWN unless the task already
 * finished; `idle` waits for an outside event (new desired state, the process's exit, its health).
 */
export function nextAction(v: ControllerView): ControllerAction {
  const finished = v.state > TaskState.TASK_STATE_RUNNING;
  if (v.removing || finished || v.desired > TaskState.TASK_STATE_RUNNING) {
    if (v.hasProcess || !finished) return 'stop';
    return v.removing ? 'remove' : 'idle';
  }
  if (v.state < TaskState.TASK_STATE_ACCEPTED) return 'accept';
  if (v.state < TaskState.TASK_STATE_READY) return 'prepare';
  if (v.state === TaskState.TASK_STATE_READY) return v.desired >= TaskState.TASK_STATE_RUNNING ? 'start' : 'idle';
  return 'idle';
}

/** The err a task that exited by itself reports (docker's wording, with the exit code). */
export function exitError(exit: TaskExit): string {
  if (exit.error) return `task failed: ${exit.error}`;
  if (exit.oomKilled) return `task failed: exit code ${exit.exitCode} (out of memory)`;
  return `task failed: exit code ${exit.exitCode}`;
}

export class TaskController {
  private task: Task;
  private status: TaskStatus;
  private hasProcess = false;
  private removing = false;
  /** The executor has been asked what it holds for the task; nothing is decided before. */
  private attached = false;
  /** An executor step is in flight. */
  private busy = false;
  /** Detached or removed: no more steps, reports or timers. */
  private closed = false;
  /** The process is being stopped on purpose: its exit is not a failure. */
  private stopping = false;
  /** The drain pause has been waited out (a retried stop does not wait again). */
  private drained = false;
  private waitAbort: AbortController | undefined;
  private healthTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private readonly removedPromise: Promise<void>;
  private resolveRemoved: () => void = () => undefined;

  constructor(
    task: Task,
    /** The newest status the task has (as this agent last reported it, or as the managers know it). */
    status: TaskStatus,
    private readonly deps: TaskControllerDeps,
  ) {
    this.task = task;
    this.status = status;
    this.removedPromise = new Promise((resolve) => (this.resolveRemoved = resolve));
  }

  get id(): string {
    return this.task.meta?.id ?? '';
  }

  /** The newest status given to the task. */
  get currentStatus(): TaskStatus {
    return this.status;
  }

  get currentTask(): Task {
    return this.task;
  }

  /** Looks for what the executor already holds for the task, then drives it. */
  start(): void {
    this.run('attach', () => this.attach());
  }

  /** The managers sent the task again, perhaps with a new desired state. */
  update(task: Task): void {
    if (this.closed || this.removing) return;
    this.task = task;
    this.kick();
  }

  /** The task left the node's assignments: stop it if need be, then remove it. Resolves once removed. */
  remove(): Promise<void> {
    if (!this.closed) {
      this.removing = true;
      this.kick();
    }
    return this.removedPromise;
  }

  /** The agent is going away: stop watching, leave the task's process running. */
  detach(): void {
    this.close();
  }

  private kick(): void {
    if (this.closed || this.busy || this.retryTimer || !this.attached) return;
    const action = nextAction({ state: this.status.state, desired: this.task.desiredState, hasProcess: this.hasProcess, removing: this.removing });
    switch (action) {
      case 'accept':
        this.advance(TaskState.TASK_STATE_ACCEPTED, { message: 'accepted' });
        this.kick();
        return;
      case 'prepare':
        this.run(action, () => this.prepare());
        return;
      case 'start':
        this.run(action, () => this.startProcess());
        return;
      case 'stop':
        this.run(action, () => this.stop());
        return;
      case 'remove':
        this.run(action, () => this.removeFromExecutor());
        return;
      case 'idle':
        return;
    }
  }

  private run(action: string, step: () => Promise<void>): void {
    this.busy = true;
    step()
      .catch((err: unknown) => this.deps.logger.error({ err, taskId: this.id, action }, 'agent: task step failed unexpectedly'))
      .finally(() => {
        this.busy = false;
        this.kick();
      });
  }

  private async attach(): Promise<void> {
    let info;
    try {
      info = await this.deps.executor.inspect(this.id);
    } catch (err) {
      // Deciding without knowing whether a process runs could start a second one: ask again.
      this.deps.logger.warn({ err, taskId: this.id }, 'agent: could not inspect the task; will retry');
      this.retryTimer = this.deps.clock.setTimer(this.deps.retryMs, () => {
        this.retryTimer = undefined;
        if (!this.closed) this.start();
      });
      return;
    }
    this.attached = true;
    if (this.closed) return;
    const state = this.status.state;
    if (info?.running) {
      this.hasProcess = true;
      this.watchExit();
      if (state > TaskState.TASK_STATE_RUNNING) return; // A finished task's leftover process: stopped next.
      this.deps.logger.info({ taskId: this.id, pid: info.pid }, 'agent: re-attached to a running task');
      if (state < TaskState.TASK_STATE_STARTING) this.advance(TaskState.TASK_STATE_STARTING, { message: 'starting', pid: info.pid ?? 0 });
      await this.started(info.pid);
      return;
    }
    if (state > TaskState.TASK_STATE_RUNNING) return;
    if (info?.exitCode !== undefined) {
      this.exited({ exitCode: info.exitCode, oomKilled: info.oomKilled });
    } else if (state >= TaskState.TASK_STATE_STARTING) {
      // It was started, and nothing of its process is left to tell how it ended.
      this.exited({ exitCode: -1, error: info ? 'its process is gone and its exit code is unknown' : 'the executor has no record of it' });
    }
  }

  private async prepare(): Promise<void> {
    if (this.status.state < TaskState.TASK_STATE_PREPARING) this.advance(TaskState.TASK_STATE_PREPARING, { message: 'preparing' });
    // The executor may call back after prepare settled (a stray progress event): ignored then.
    let preparing = true;
    try {
      await this.deps.executor.prepare(this.task, (message) => {
        if (preparing) this.progress(message);
      });
    } catch (err) {
      this.advance(TaskState.TASK_STATE_REJECTED, { message: 'rejected', err: `task rejected: ${messageOf(err)}` });
      return;
    } finally {
      preparing = false;
    }
    this.advance(TaskState.TASK_STATE_READY, { message: 'prepared' });
  }

  /** A new status message while PREPARING (pull progress): same state, new message and time. */
  private progress(message: string): void {
    if (this.closed || this.status.state !== TaskState.TASK_STATE_PREPARING || message === this.status.message) return;
    this.status = { ...this.status, message, timestamp: this.deps.now() };
    this.deps.report(this.id, this.status);
  }

  private async startProcess(): Promise<void> {
    this.advance(TaskState.TASK_STATE_STARTING, { message: 'starting' });
    try {
      await this.deps.executor.start(this.task);
    } catch (err) {
      this.advance(TaskState.TASK_STATE_FAILED, { message: 'failed', err: `task failed: could not start: ${messageOf(err)}` });
      return;
    }
    this.hasProcess = true;
    this.stopping = false;
    const info = await this.deps.executor.inspect(this.id);
    if (this.closed) return;
    this.watchExit();
    await this.started(info?.pid);
  }

  /**
   * The process runs: RUNNING now if the executor says it has no healthcheck, else once healthy.
   * Asked at once, so a task without one (or already healthy) does not wait a poll period.
   */
  private async started(pid: number | undefined): Promise<void> {
    if (pid !== undefined && pid !== this.status.pid) this.status = { ...this.status, pid };
    await this.checkHealth();
  }

  private async stop(): Promise<void> {
    if (this.hasProcess) {
      this.stopping = true;
      this.cancelHealth();
      await this.drain();
      try {
        await this.deps.executor.shutdown(this.task, stopGraceMs(this.task));
      } catch (err) {
        this.deps.logger.warn({ err, taskId: this.id }, 'agent: could not stop the task; will retry');
        this.retryLater();
        return;
      }
      this.hasProcess = false;
    }
    if (this.status.state <= TaskState.TASK_STATE_RUNNING) this.advance(TaskState.TASK_STATE_SHUTDOWN, { message: 'shutdown' });
  }

  /** Waits out the drain pause once, if the task was serving on networks. */
  private async drain(): Promise<void> {
    const ms = this.deps.drainMs ?? DRAIN_MS;
    if (this.drained || ms <= 0 || this.task.networks.length === 0 || this.status.state !== TaskState.TASK_STATE_RUNNING) return;
    this.drained = true;
    await new Promise<void>((resolve) => this.deps.clock.setTimer(ms, resolve));
  }

  private async removeFromExecutor(): Promise<void> {
    try {
      await this.deps.executor.remove(this.task);
    } catch (err) {
      this.deps.logger.warn({ err, taskId: this.id }, 'agent: could not remove the task; will retry');
      this.retryLater();
      return;
    }
    this.close();
    this.resolveRemoved();
  }

  private watchExit(): void {
    this.waitAbort?.abort();
    const abort = new AbortController();
    this.waitAbort = abort;
    this.deps.executor.wait(this.task, abort.signal).then(
      (exit) => {
        if (this.waitAbort === abort) this.onExit(exit);
      },
      (err: unknown) => {
        if (!abort.signal.aborted && this.waitAbort === abort) this.onExit({ exitCode: -1, error: `lost track of its process: ${messageOf(err)}` });
      },
    );
  }

  private onExit(exit: TaskExit): void {
    this.waitAbort = undefined;
    if (this.closed) return;
    this.hasProcess = false;
    this.cancelHealth();
    // A stop in progress reports SHUTDOWN itself once the executor confirms.
    if (this.stopping) return;
    this.exited(exit);
    this.kick();
  }

  /** Reports how the process ended: SHUTDOWN if the managers wanted it stopped, else COMPLETE or FAILED. */
  private exited(exit: TaskExit): void {
    if (this.status.state > TaskState.TASK_STATE_RUNNING) return;
    const exitCode = exit.exitCode;
    if (this.task.desiredState > TaskState.TASK_STATE_RUNNING) {
      this.advance(TaskState.TASK_STATE_SHUTDOWN, { message: 'shutdown', exitCode });
    } else if (exitCode === 0 && !exit.error) {
      this.advance(TaskState.TASK_STATE_COMPLETE, { message: 'finished', exitCode });
    } else {
      this.advance(TaskState.TASK_STATE_FAILED, { message: 'failed', err: exitError(exit), exitCode });
    }
  }

  private scheduleHealth(): void {
    if (this.closed || this.healthTimer) return;
    this.healthTimer = this.deps.clock.setTimer(this.deps.healthPollMs, () => {
      this.healthTimer = undefined;
      void this.checkHealth();
    });
  }

  private async checkHealth(): Promise<void> {
    if (this.closed || !this.hasProcess || this.stopping || this.status.state > TaskState.TASK_STATE_RUNNING) return;
    let health: HealthState;
    try {
      health = await this.deps.executor.health(this.task);
    } catch (err) {
      this.deps.logger.warn({ err, taskId: this.id }, 'agent: could not read the task health');
      this.scheduleHealth();
      return;
    }
    if (this.closed || !this.hasProcess || this.stopping || this.status.state > TaskState.TASK_STATE_RUNNING) return;
    if (health === HealthState.HEALTH_STATE_UNHEALTHY) {
      this.advance(TaskState.TASK_STATE_FAILED, { message: 'unhealthy', err: 'task failed: unhealthy container', health });
      this.kick(); // Stops the unhealthy process.
      return;
    }
    const state = this.status.state;
    if (state === TaskState.TASK_STATE_STARTING && (health === HealthState.HEALTH_STATE_HEALTHY || health === HealthState.HEALTH_STATE_NONE)) {
      this.advance(TaskState.TASK_STATE_RUNNING, { message: 'started', health });
    } else if (health !== this.status.health) {
      this.advance(state, { message: this.status.message, health });
    }
    // Without a healthcheck there is nothing to watch.
    if (health !== HealthState.HEALTH_STATE_NONE) this.scheduleHealth();
  }

  /** Gives the task a new status, if it says something new; never a state behind the current one. */
  private advance(state: TaskState, detail: Partial<TaskStatus>): void {
    if (this.closed) return;
    const current = this.status;
    const health = detail.health ?? current.health;
    if (state < current.state || (state === current.state && health === current.health)) return;
    this.status = {
      state,
      timestamp: this.deps.now(),
      message: detail.message ?? '',
      err: detail.err ?? '',
      exitCode: detail.exitCode ?? 0,
      health,
      containerId: current.containerId,
      pid: detail.pid ?? current.pid,
    };
    this.deps.logger.debug({ taskId: this.id, state: TaskState[state], err: this.status.err || undefined }, 'agent: task state');
    this.deps.report(this.id, this.status);
  }

  private retryLater(): void {
    this.retryTimer = this.deps.clock.setTimer(this.deps.retryMs, () => {
      this.retryTimer = undefined;
      this.kick();
    });
  }

  private cancelHealth(): void {
    this.healthTimer?.cancel();
    this.healthTimer = undefined;
  }

  private close(): void {
    this.closed = true;
    this.cancelHealth();
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    this.waitAbort?.abort();
    this.waitAbort = undefined;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
