/**
 * An in-memory Executor for the agent's unit tests: no processes at all. It records every call,
 * holds any call until the test releases it, fails the calls it is told to, and lets the test end
 * a task's "process" (exit) or set its health.
 */
import { HealthState, type Task } from '../../../proto/gen/objects.js';
import type { LogEntry } from '../../runtime/container/logs.js';
import type { Executor, PrepareProgress, TaskExit, TaskInspection, TaskLogOptions } from '../executor.js';

interface FakeProcess {
  pid: number;
  exit: TaskExit | undefined;
  waiters: ((exit: TaskExit) => void)[];
}

type Method = 'prepare' | 'start' | 'shutdown' | 'remove' | 'inspect';

export class ScriptedExecutor implements Executor {
  /** Every call, as "method taskId" (shutdown adds its grace: "shutdown t1 10000"). */
  readonly calls: string[] = [];
  /** Calls that throw this message, by "method taskId"; each entry is used once. */
  readonly failures = new Map<string, string>();
  /** Each task's health, by id; NONE (no healthcheck, spec or image) when unset. */
  readonly healthOf = new Map<string, HealthState>();
  /** Progress messages prepare gives, by task id, before it waits on a hold or fails. */
  readonly progressOf = new Map<string, string[]>();
  /** Each task's log lines so far, by id (writeLog adds to them). */
  readonly logOf = new Map<string, LogEntry[]>();
  /** Log readers that follow, woken by writeLog. */
  private readonly logWaiters = new Set<() => void>();
  /** How many log readers are open now, by task id. */
  readonly openLogReaders = new Map<string, number>();
  private readonly processes = new Map<string, FakeProcess>();
  private readonly holds = new Map<string, { released: Promise<void>; release: () => void }>();
  private nextPid = 1000;

  /** The next `method` call for `taskId` waits until the returned function is called. */
  hold(method: Method, taskId: string): () => void {
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.holds.set(`${method} ${taskId}`, { released, release });
    return release;
  }

  /** A process the executor already runs, as an earlier agent left it. */
  adopt(taskId: string, pid: number, exit?: TaskExit): void {
    this.processes.set(taskId, { pid, exit, waiters: [] });
  }

  /** The task's process exits. */
  exit(taskId: string, exit: TaskExit): void {
    const p = this.processes.get(taskId);
    if (!p || p.exit) return;
    p.exit = exit;
    for (const waiter of p.waiters.splice(0)) waiter(exit);
  }

  isRunning(taskId: string): boolean {
    const p = this.processes.get(taskId);
    return p !== undefined && p.exit === undefined;
  }

  async prepare(task: Task, progress?: PrepareProgress): Promise<void> {
    for (const message of this.progressOf.get(idOf(task)) ?? []) progress?.(message);
    await this.enter('prepare', task);
  }

  async start(task: Task): Promise<void> {
    const id = await this.enter('start', task);
    if (!this.processes.has(id)) this.processes.set(id, { pid: this.nextPid++, exit: undefined, waiters: [] });
  }

  wait(task: Task, signal?: AbortSignal): Promise<TaskExit> {
    const p = this.processes.get(idOf(task));
    if (!p) return Promise.resolve({ exitCode: -1, error: 'no such task' });
    if (p.exit) return Promise.resolve(p.exit);
    return new Promise((resolve, reject) => {
      p.waiters.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  async shutdown(task: Task, graceMs: number): Promise<void> {
    const id = await this.enter('shutdown', task, ` ${graceMs}`);
    this.exit(id, { exitCode: 143 });
  }

  async remove(task: Task): Promise<void> {
    const id = await this.enter('remove', task);
    this.processes.delete(id);
  }

  async health(task: Task): Promise<HealthState> {
    return this.healthOf.get(idOf(task)) ?? HealthState.HEALTH_STATE_NONE;
  }

  /** The task "writes" a line: readers that follow get it. */
  writeLog(taskId: string, log: string, stream: LogEntry['stream'] = 'stdout'): void {
    const lines = this.logOf.get(taskId) ?? [];
    lines.push({ time: new Date().toISOString(), stream, log });
    this.logOf.set(taskId, lines);
    for (const wake of [...this.logWaiters]) wake();
  }

  async *logs(task: Task, options: TaskLogOptions, signal: AbortSignal): AsyncIterable<LogEntry> {
    const id = idOf(task);
    this.openLogReaders.set(id, (this.openLogReaders.get(id) ?? 0) + 1);
    try {
      const existing = this.logOf.get(id) ?? [];
      let next = options.tail < 0 ? 0 : Math.max(0, existing.length - options.tail);
      for (;;) {
        const lines = this.logOf.get(id) ?? [];
        while (next < lines.length && !signal.aborted) yield lines[next++]!;
        if (!options.follow || signal.aborted) return;
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            this.logWaiters.delete(wake);
            signal.removeEventListener('abort', wake);
            resolve();
          };
          this.logWaiters.add(wake);
          signal.addEventListener('abort', wake, { once: true });
        });
      }
    } finally {
      this.openLogReaders.set(id, (this.openLogReaders.get(id) ?? 1) - 1);
    }
  }

  async inspect(taskId: string): Promise<TaskInspection | undefined> {
    await this.enterId('inspect', taskId, '', false);
    const p = this.processes.get(taskId);
    if (!p) return undefined;
    if (!p.exit) return { running: true, pid: p.pid };
    if (p.exit.exitCode < 0) return { running: false, pid: p.pid };
    return p.exit.oomKilled ? { running: false, pid: p.pid, exitCode: p.exit.exitCode, oomKilled: true } : { running: false, pid: p.pid, exitCode: p.exit.exitCode };
  }

  private enter(method: Method, task: Task, suffix = ''): Promise<string> {
    return this.enterId(method, idOf(task), suffix, true);
  }

  private async enterId(method: Method, id: string, suffix: string, record: boolean): Promise<string> {
    if (record) this.calls.push(`${method} ${id}${suffix}`);
    const key = `${method} ${id}`;
    const hold = this.holds.get(key);
    if (hold) {
      this.holds.delete(key);
      await hold.released;
    }
    const failure = this.failures.get(key);
    if (failure !== undefined) {
      this.failures.delete(key);
      throw new Error(failure);
    }
    return id;
  }
}

function idOf(task: Task): string {
  return task.meta?.id ?? '';
}
