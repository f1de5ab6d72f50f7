/**
 * An in-memory Executor for the agent's unit tests: no processes at all. It records every call,
 * holds any call until the test releases it, fails the calls it is told to, and lets the test end
 * a task's "process" (exit) or set its health.
 */
import { HealthState, type Task } from '../../../proto/gen/objects.js';
import type { Executor, PrepareProgress, TaskExit, TaskInspection } from '../executor.js';

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
