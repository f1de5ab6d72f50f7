/**
 * What the agent keeps in its state directory so that a restart resumes where it stopped: the
 * managers it knows and each assigned task with the last status the agent gave it. (The node's id is
 * its certificate's, saved beside it: src/manager/ca/node-credentials.ts.) The file is rewritten whole and atomically (src/common/atomic-file.ts), a
 * short while after a change so a burst of task steps costs one write.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Task, TaskStatus } from '../../proto/gen/objects.js';
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { writeFileAtomic } from '../common/atomic-file.js';

export const STATE_FILE = 'agent-state.json';
const FORMAT_VERSION = 1;

export interface PersistedTask {
  task: Task;
  /** The newest status this agent gave the task (reported or still waiting to be). */
  status: TaskStatus;
}

export interface AgentState {
  managers: string[];
  tasks: PersistedTask[];
}

export class StateFileError extends Error {
  constructor(path: string, cause: unknown) {
    super(`agent state ${path} is unreadable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StateFileError';
  }
}

/** The state saved in `stateDir`; an empty state if none was saved. */
export function loadAgentState(stateDir: string): AgentState {
  const path = join(stateDir, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { managers: [], tasks: [] };
    throw new StateFileError(path, err);
  }
  try {
    const json = JSON.parse(text) as { version?: unknown; managers?: unknown; tasks?: unknown };
    if (json.version !== FORMAT_VERSION) throw new Error(`format version ${String(json.version)}, expected ${FORMAT_VERSION}`);
    const tasks = Array.isArray(json.tasks) ? (json.tasks as { task: unknown; status: unknown }[]) : [];
    return {
      managers: Array.isArray(json.managers) ? json.managers.filter((m): m is string => typeof m === 'string') : [],
      tasks: tasks.map((t) => ({ task: Task.fromJSON(t.task), status: TaskStatus.fromJSON(t.status) })),
    };
  } catch (err) {
    throw new StateFileError(path, err);
  }
}

export function encodeAgentState(state: AgentState): string {
  return JSON.stringify({
    version: FORMAT_VERSION,
    managers: state.managers,
    tasks: state.tasks.map((t) => ({ task: Task.toJSON(t.task), status: TaskStatus.toJSON(t.status) })),
  });
}

export interface StateWriterOptions {
  stateDir: string;
  /** The state to write, read when the write happens. */
  snapshot: () => AgentState;
  clock?: Clock;
  /** Quiet time after a change before writing. Default 50 ms. */
  delayMs?: number;
  logger?: Logger;
}

/** Writes the state a little after it changes; one write at a time, the latest state always last. */
export class StateWriter {
  private readonly path: string;
  private readonly clock: Clock;
  private readonly delayMs: number;
  private readonly logger: Logger;
  private timer: TimerHandle | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: StateWriterOptions) {
    this.path = join(opts.stateDir, STATE_FILE);
    this.clock = opts.clock ?? systemClock;
    this.delayMs = opts.delayMs ?? 50;
    this.logger = opts.logger ?? silentLogger;
  }

  /** The state changed: it will be written shortly. */
  changed(): void {
    this.dirty = true;
    if (this.timer || this.writing || this.closed) return;
    this.timer = this.clock.setTimer(this.delayMs, () => {
      this.timer = undefined;
      void this.write();
    });
  }

  /** Writes any change now; resolves once the file holds the state as of this call (or the write failed, logged). */
  async flush(): Promise<void> {
    if (this.closed) return;
    this.cancelTimer();
    if (this.writing) await this.writing;
    // A failed write re-arms the timer: this flush writes instead.
    this.cancelTimer();
    if (this.dirty) await this.write();
  }

  /** A last flush; later changes are not written. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.cancelTimer();
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private write(): Promise<void> {
    if (this.writing) return this.writing;
    this.dirty = false;
    const data = encodeAgentState(this.opts.snapshot());
    this.writing = writeFileAtomic(this.path, data)
      .catch((err: unknown) => {
        // Kept dirty: the next change or flush tries again. The tasks run on regardless.
        this.dirty = true;
        this.logger.error({ err, path: this.path }, 'agent: could not save its state');
      })
      .finally(() => {
        this.writing = undefined;
        if (this.dirty && !this.timer) this.changed();
      });
    return this.writing;
  }
}
