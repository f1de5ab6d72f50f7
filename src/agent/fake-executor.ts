/**
 * FakeExecutor: a SIMULATED executor for tests, benchmarks and trying the cluster out before the
 * container runtime exists. It pulls nothing and isolates nothing: each started task is a plain
 * `sleep` process of the agent's user, so that there is a real process with a real pid to stop,
 * kill, lose and find again.
 *
 * Like the runtime's shim, a small supervisor outlives the agent: `start` spawns a detached
 * `sh` (its own session, not the agent's child once the agent is gone) that runs the task's
 * `sleep`, waits for it and records its exit code in the task's directory. The task's directory
 * also holds its record (supervisor and task pids, with their start times so a reused pid is not
 * mistaken for ours), so a new agent process re-attaches by pid: the same process, never restarted.
 *
 * It keeps a container log in the runtime's format (JSON lines, see src/runtime/container/logs.ts)
 * of what it simulates, so that `shoal service logs` has something to show with fake workers: a
 * line when the task starts, one when it is asked to stop, and one (written by the supervisor)
 * when its process exits.
 *
 * Failure modes are chosen per image (FakeBehaviour): refuse to prepare or to start, exit with a
 * code after some time, turn unhealthy after some time, ignore SIGTERM (so shutdown needs SIGKILL).
 * An image may also declare a healthcheck of its own, which tasks run unless their spec names
 * another or NONE (docker's rule, as RuntimeExecutor merges them).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { HealthState, type Task } from '../../proto/gen/objects.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { readContainerLog, type LogEntry } from '../runtime/container/logs.js';
import type { Executor, TaskExit, TaskInspection, TaskLogOptions } from './executor.js';
import { isAlive, readProcStat } from '../common/proc-stat.js';

/** How tasks whose image matches behave. The first matching behaviour applies. */
export interface FakeBehaviour {
  /** A string equal to the task's image, or a pattern it matches. */
  image: string | RegExp;
  /** prepare() throws this message: the task is rejected. */
  failPrepare?: string;
  /** start() throws this message: the task fails. */
  failStart?: string;
  /** The process exits by itself this long after it started, ... */
  exitAfterMs?: number;
  /** ... with this exit code (default 0: the task completes). */
  exitCode?: number;
  /** The image declares a HEALTHCHECK: its tasks have one even when their spec names none. */
  healthcheck?: boolean;
  /** A task with a healthcheck turns unhealthy this long after it started. */
  unhealthyAfterMs?: number;
  /** The process ignores SIGTERM, so a shutdown has to wait out the grace period and SIGKILL it. */
  ignoreSigterm?: boolean;
}

export interface FakeExecutorOptions {
  /** Where task directories live; a new FakeExecutor on the same directory re-attaches. */
  stateDir: string;
  /** How long prepare() takes (an image pull). Default 0. */
  prepareDelayMs?: number;
  /** How long start() takes before the process is spawned. Default 0. */
  startDelayMs?: number;
  /** How long a task with a healthcheck is STARTING before it turns HEALTHY. Default 0. */
  healthyAfterMs?: number;
  behaviours?: FakeBehaviour[];
  /** How often wait() looks for an exit. Default 100 ms. */
  pollMs?: number;
  /** Wall clock, for health timings. Default Date.now. */
  now?: () => number;
}

/** What the task's directory records about its process. */
interface FakeRecord {
  taskId: string;
  image: string;
  supervisorPid: number;
  supervisorStartTime: number;
  pid: number;
  pidStartTime: number;
  /** Wall-clock ms. */
  startedAt: number;
  healthyAt: number;
  unhealthyAt?: number;
}

const RECORD = 'task.json';
const PID_FILE = 'pid';
const EXIT_FILE = 'exit';
const LOG_FILE = 'container.log';
/** How often shutdown looks whether the process has gone: stopping should be prompt. */
const SHUTDOWN_POLL_MS = 10;
const SPAWN_TIMEOUT_MS = 10_000;

/**
 * The supervisor: runs `sleep DURATION` (ignoring SIGTERM if asked), publishes its pid, waits for
 * it, and records its exit code (a clean exit counts as EXIT_CODE, to fake a failing program).
 * Positional parameters: DIR DURATION EXIT_CODE IGNORE_TERM.
 */
const SUPERVISOR_SCRIPT = [
  'dir=$1; duration=$2; code=$3',
  'if [ "$4" = 1 ]; then ( trap "" TERM; exec sleep "$duration" ) & else sleep "$duration" & fi',
  'c=$!',
  'echo $c > "$dir/pid.tmp" && mv "$dir/pid.tmp" "$dir/pid"',
  'wait $c',
  's=$?',
  'if [ $s -eq 0 ]; then s=$code; fi',
  'echo $s > "$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"',
  // The log line the supervisor writes (the fake's own, see the header), in the shim's JSON format.
  'printf \'{"time":"%s","stream":"stdout","log":"fake task exited with code %s\\\\n"}\\n\' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$s" >> "$dir/container.log"',
].join('\n');

export class FakeExecutor implements Executor {
  private readonly now: () => number;
  private readonly pollMs: number;

  constructor(private readonly opts: FakeExecutorOptions) {
    this.now = opts.now ?? Date.now;
    this.pollMs = opts.pollMs ?? 100;
  }

  async prepare(task: Task): Promise<void> {
    await delay(this.opts.prepareDelayMs ?? 0);
    const failure = this.behaviourOf(task)?.failPrepare;
    if (failure !== undefined) throw new Error(failure);
    await mkdir(this.dirOf(taskIdOf(task)), { recursive: true });
  }

  async start(task: Task): Promise<void> {
    const id = taskIdOf(task);
    if (this.readRecord(id)) return;
    await delay(this.opts.startDelayMs ?? 0);
    const behaviour = this.behaviourOf(task);
    if (behaviour?.failStart !== undefined) throw new Error(behaviour.failStart);
    const dir = this.dirOf(id);
    if (!existsSync(dir)) throw new Error(`task ${id} was not prepared`);
    await this.log(id, `fake task started: ${imageOf(task)}`);
    const duration = behaviour?.exitAfterMs === undefined ? 'infinity' : (behaviour.exitAfterMs / 1000).toFixed(3);
    const args = ['-c', SUPERVISOR_SCRIPT, 'fake-task', dir, duration, String(behaviour?.exitCode ?? 0), behaviour?.ignoreSigterm ? '1' : '0'];
    const supervisor = spawn('/bin/sh', args, { detached: true, stdio: 'ignore', cwd: '/' });
    supervisor.unref();
    const supervisorPid = supervisor.pid;
    if (supervisorPid === undefined) throw new Error('could not spawn the fake task supervisor');
    const pid = await this.waitForPid(dir);
    const startedAt = this.now();
    const record: FakeRecord = {
      taskId: id,
      image: imageOf(task),
      supervisorPid,
      supervisorStartTime: readProcStat(supervisorPid)?.startTime ?? 0,
      pid,
      pidStartTime: readProcStat(pid)?.startTime ?? 0,
      startedAt,
      healthyAt: startedAt + (this.opts.healthyAfterMs ?? 0),
      unhealthyAt: behaviour?.unhealthyAfterMs === undefined ? undefined : startedAt + behaviour.unhealthyAfterMs,
    };
    await writeFileAtomic(join(dir, RECORD), JSON.stringify(record));
  }

  async wait(task: Task, signal?: AbortSignal): Promise<TaskExit> {
    const id = taskIdOf(task);
    for (;;) {
      signal?.throwIfAborted();
      const record = this.readRecord(id);
      if (!record) return { exitCode: -1, error: 'the fake executor has no record of the task' };
      const exit = this.exitOf(record);
      if (exit) return exit;
      await delay(this.pollMs, signal);
    }
  }

  async shutdown(task: Task, graceMs: number): Promise<void> {
    const record = this.readRecord(taskIdOf(task));
    if (!record || this.exitOf(record)) return;
    await this.log(record.taskId, `fake task stopping: ${stopSignalOf(task)}`);
    signalProcess(record.pid, stopSignalOf(task));
    const deadline = Date.now() + graceMs;
    while (!this.exitOf(record) && Date.now() < deadline) await delay(SHUTDOWN_POLL_MS);
    if (this.exitOf(record)) return;
    signalProcess(record.pid, 'SIGKILL');
    while (!this.exitOf(record)) await delay(SHUTDOWN_POLL_MS);
  }

  async remove(task: Task): Promise<void> {
    const id = taskIdOf(task);
    const record = this.readRecord(id);
    // The contract says the task is stopped first; whatever is left is killed rather than leaked.
    if (record) killRecorded(record);
    await rm(this.dirOf(id), { recursive: true, force: true });
  }

  async health(task: Task): Promise<HealthState> {
    if (!runsHealthcheck(task, this.behaviourOf(task))) return HealthState.HEALTH_STATE_NONE;
    const record = this.readRecord(taskIdOf(task));
    if (!record) return HealthState.HEALTH_STATE_STARTING;
    const now = this.now();
    if (record.unhealthyAt !== undefined && now >= record.unhealthyAt) return HealthState.HEALTH_STATE_UNHEALTHY;
    return now >= record.healthyAt ? HealthState.HEALTH_STATE_HEALTHY : HealthState.HEALTH_STATE_STARTING;
  }

  logs(task: Task, options: TaskLogOptions, signal: AbortSignal): AsyncIterable<LogEntry> {
    return readContainerLog(join(this.dirOf(taskIdOf(task)), LOG_FILE), { ...options, pollMs: this.pollMs }, signal);
  }

  async inspect(taskId: string): Promise<TaskInspection | undefined> {
    const record = this.readRecord(taskId);
    if (!record) return existsSync(this.dirOf(taskId)) ? { running: false } : undefined;
    const exit = this.exitOf(record);
    if (!exit) return { running: true, pid: record.pid };
    return exit.exitCode >= 0 ? { running: false, pid: record.pid, exitCode: exit.exitCode } : { running: false, pid: record.pid };
  }

  /**
   * Kills every process recorded under `stateDir` (SIGKILL to each supervisor's process group and
   * each task process). For tests' cleanup, which must leave nothing running even after a failure.
   */
  static killAll(stateDir: string): number {
    let killed = 0;
    let entries: string[];
    try {
      entries = readdirSync(stateDir);
    } catch {
      return 0;
    }
    for (const entry of entries) {
      try {
        const record = JSON.parse(readFileSync(join(stateDir, entry, RECORD), 'utf8')) as FakeRecord;
        if (killRecorded(record)) killed++;
      } catch {
        // A directory without a record holds no process.
      }
    }
    return killed;
  }

  /** Appends one line to the task's log, as the shim would (nanoseconds: the milliseconds padded). */
  private async log(taskId: string, text: string): Promise<void> {
    const time = new Date(this.now()).toISOString().replace('Z', '000000Z');
    await appendFile(join(this.dirOf(taskId), LOG_FILE), `${JSON.stringify({ time, stream: 'stdout', log: `${text}\n` })}\n`);
  }

  private behaviourOf(task: Task): FakeBehaviour | undefined {
    const image = imageOf(task);
    return this.opts.behaviours?.find((b) => (typeof b.image === 'string' ? b.image === image : b.image.test(image)));
  }

  private dirOf(taskId: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(taskId)) throw new Error(`fake executor: unusable task id "${taskId}"`);
    return join(this.opts.stateDir, taskId);
  }

  private readRecord(taskId: string): FakeRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dirOf(taskId), RECORD), 'utf8')) as FakeRecord;
    } catch {
      return undefined;
    }
  }

  /** The exit, once the process is gone: recorded by the supervisor, or unknown if it died too. */
  private exitOf(record: FakeRecord): TaskExit | undefined {
    const code = this.readExitFile(record.taskId);
    if (code !== undefined) return { exitCode: code };
    if (isAlive(record.pid, record.pidStartTime) || isAlive(record.supervisorPid, record.supervisorStartTime)) return undefined;
    // Both gone: the supervisor may have written the file between the two looks.
    const late = this.readExitFile(record.taskId);
    if (late !== undefined) return { exitCode: late };
    return { exitCode: -1, error: 'the task process and its fake supervisor are gone; exit code unknown' };
  }

  private readExitFile(taskId: string): number | undefined {
    try {
      const code = Number.parseInt(readFileSync(join(this.dirOf(taskId), EXIT_FILE), 'utf8'), 10);
      return Number.isInteger(code) ? code : undefined;
    } catch {
      return undefined;
    }
  }

  private async waitForPid(dir: string): Promise<number> {
    const deadline = Date.now() + SPAWN_TIMEOUT_MS;
    for (;;) {
      try {
        const pid = Number.parseInt(await readFile(join(dir, PID_FILE), 'utf8'), 10);
        if (pid > 0) return pid;
      } catch {
        // Not written yet.
      }
      if (Date.now() > deadline) throw new Error('the fake task supervisor did not start its process');
      await delay(2);
    }
  }
}

function taskIdOf(task: Task): string {
  return task.meta?.id ?? '';
}

/** The spec's healthcheck test if it gives one (["NONE"] disables), else the image's. */
function runsHealthcheck(task: Task, behaviour: FakeBehaviour | undefined): boolean {
  const test = task.spec?.container?.healthcheck?.test ?? [];
  return test.length > 0 ? test[0] !== 'NONE' : behaviour?.healthcheck === true;
}

function imageOf(task: Task): string {
  return task.spec?.container?.image ?? '';
}

function stopSignalOf(task: Task): NodeJS.Signals {
  const name = (task.spec?.container?.stopSignal ?? '').toUpperCase();
  if (name === '') return 'SIGTERM';
  const full = (name.startsWith('SIG') ? name : `SIG${name}`) as NodeJS.Signals;
  return full in constants.signals ? full : 'SIGTERM';
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGKILL to the task process and its supervisor's process group, if they are still ours. */
function killRecorded(record: FakeRecord): boolean {
  let killed = false;
  if (isAlive(record.pid, record.pidStartTime)) {
    signalProcess(record.pid, 'SIGKILL');
    killed = true;
  }
  if (isAlive(record.supervisorPid, record.supervisorStartTime)) {
    // Spawned detached, the supervisor leads its own process group.
    try {
      process.kill(-record.supervisorPid, 'SIGKILL');
    } catch {
      signalProcess(record.supervisorPid, 'SIGKILL');
    }
    killed = true;
  }
  return killed;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
