/**
 * The Executor: what the agent asks of whatever runs tasks on this node. RuntimeExecutor
 * (runtime-executor/) runs them as containers on the container runtime (src/runtime);
 * FakeExecutor (fake-executor.ts) simulates it with plain processes.
 *
 * The agent's task controller (task-controller.ts) calls at most one of prepare, start, shutdown and
 * remove at a time for a given task, and never calls a later step before an earlier one succeeded.
 * Every method may be called again for the same task after an agent restart, so each must be
 * idempotent: preparing a prepared task, starting a started one, shutting down a stopped one or
 * removing a removed one succeeds without doing anything twice.
 *
 * A task's processes must outlive the agent: an agent that restarts finds them with inspect() and
 * re-attaches (wait, health, shutdown) instead of starting them again.
 *
 * logs() may be called at any time, for any task the executor has a record of, alongside the rest.
 */
import type { HealthState, Task } from '../../proto/gen/objects.js';
import type { LogEntry, LogReadOptions } from '../runtime/container/logs.js';
import type { ContainerNetworking } from './network/container-networking.js';
import { DEFAULT_STOP_GRACE_PERIOD_MS } from '../manager/controlapi/spec-defaults.js';

/** How a task's main process ended. */
export interface TaskExit {
  /** The exit code, 128 + the signal's number if a signal killed it, -1 if it is not known. */
  exitCode: number;
  /** The kernel killed it for exceeding its memory limit. */
  oomKilled?: boolean;
  /** Why the exit could not be observed properly (e.g. its record was lost); reported as the failure. */
  error?: string;
}

/** Which of a task's log lines `logs` gives (the reader's poll interval is the executor's business). */
export type TaskLogOptions = Omit<LogReadOptions, 'pollMs'>;

/** What the executor knows of a task it was given before, possibly by an earlier agent process. */
export interface TaskInspection {
  running: boolean;
  pid?: number;
  /** Set once the task has exited and its exit code is known. */
  exitCode?: number;
  /** It exited because the kernel killed it for exceeding its memory limit. */
  oomKilled?: boolean;
}

/**
 * Receives what a long prepare is doing, as one line for the task's status message (e.g.
 * "pulling 127.0.0.1:5000/busybox: 2/3 layers, 1.2 MB"). Callers may get many; only the newest matters.
 */
export type PrepareProgress = (message: string) => void;

export interface Executor {
  /**
   * Gets everything ready to start the task (image, filesystem, network) without starting it,
   * telling `progress` what it is doing when that takes a while (an image pull).
   * Throws if the task can never run here (e.g. its image does not exist); the task is rejected.
   */
  prepare(task: Task, progress?: PrepareProgress): Promise<void>;

  /**
   * Starts the prepared task's process and resolves once it runs. Throws if it could not be
   * started; the task fails. A task that has started already is left as it is.
   */
  start(task: Task): Promise<void>;

  /**
   * Resolves when the started task's process exits (at once if it has exited already). Rejects
   * with the signal's reason if `signal` aborts first: the caller stopped watching, the process
   * goes on.
   */
  wait(task: Task, signal?: AbortSignal): Promise<TaskExit>;

  /**
   * Stops the task: its stop signal (SIGTERM unless the spec names another) and, if it is still
   * running `graceMs` later, SIGKILL. Resolves once the process has exited. Does nothing if it is
   * not running.
   */
  shutdown(task: Task, graceMs: number): Promise<void>;

  /** Releases everything the task held (its filesystem, its record). The task must be stopped first. */
  remove(task: Task): Promise<void>;

  /**
   * The task's health as its healthcheck last found it: NONE without a healthcheck, STARTING until
   * the first verdict (or during the start period), then HEALTHY or UNHEALTHY. The healthcheck is
   * the one that runs, the spec's merged with the image's own; the agent asks as soon as `start`
   * resolves (or `inspect` finds the task running) and takes NONE to mean the task has none, so a
   * task with one must never be NONE from then on.
   */
  health(task: Task): Promise<HealthState>;

  /** What is known of the task, or undefined if this executor holds no record of it. */
  inspect(taskId: string): Promise<TaskInspection | undefined>;

  /**
   * The lines the task's process wrote (docker's json-file entries: time, stream, text), oldest
   * first: the last `tail` of them, those since a time, and with `follow` what it writes from now
   * on, until `signal` aborts (the iteration then ends without an error). Nothing for a task
   * without a log.
   */
  logs(task: Task, options: TaskLogOptions, signal: AbortSignal): AsyncIterable<LogEntry>;

  /**
   * Only an executor whose tasks have network namespaces of their own (the runtime executor) has
   * it: the agent then runs its networking (network/) and hands it over before any task is
   * started. Without it the agent ignores the managers' NetworkState.
   */
  useNetworking?(networking: ContainerNetworking): void;
}

/** The stop grace period of the task's spec; docker's default when the spec leaves it at 0. */
export function stopGraceMs(task: Task): number {
  const grace = task.spec?.container?.stopGracePeriodMs ?? 0;
  return grace > 0 ? grace : DEFAULT_STOP_GRACE_PERIOD_MS;
}
