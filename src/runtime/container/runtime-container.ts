/**
 * One container through `shoal-runtime`, the OCI runtime in src/runtime/shim: the spec is written
 * as the bundle's config.json, the runtime's command line creates, starts, signals, execs into
 * and deletes it, and the files it keeps under `<root>/<id>/` are read directly, which costs no
 * process: `state.json` (pids, bundle, annotations) and, once the container has ended, `exit`
 * (`{"exitCode":N,"oomKilled":bool}`, written by rename so a read sees all of it or nothing).
 *
 * The runtime leaves a supervisor per container in its own session; nothing here holds it, so a
 * worker can exit and a later one `attach` by id. Waiting is by polling the exit file: after a
 * restart the supervisor is not our child, so there is nothing else to wait on.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { packageRoot } from '../../common/package-root.js';
import { isAlive } from '../../common/proc-stat.js';
import { checkContainerSpec, type ContainerSpec } from './config.js';
import { readRotatedLogEntries, type LogEntry } from './logs.js';
import { ANNOTATIONS, buildOciConfig, renderOciConfig } from './oci/build-config.js';
import { runtimeExec, type ExecOptions, type ExecResult } from './runtime-exec.js';
import { resolveUser } from './user.js';

/** Where the runtime keeps its state unless told otherwise (its --root default). */
export const DEFAULT_STATE_ROOT = '/run/shoal-runtime';

/** The runtime as `src/runtime/shim/build.sh` builds it: dist/shim/shoal-runtime under the package root. */
export function defaultRuntimePath(): string {
  return join(packageRoot(), 'dist', 'shim', 'shoal-runtime');
}

export interface RuntimeOptions {
  /** The shoal-runtime binary; defaultRuntimePath() when absent. */
  runtimePath?: string;
  /** The runtime's state root (--root); DEFAULT_STATE_ROOT when absent. */
  root?: string;
}

export interface ContainerExit {
  /** The exit status, or 128 + the signal that killed it. */
  exitCode: number;
  /** The kernel's OOM killer killed a process of the container. */
  oomKilled: boolean;
}

/** The OCI state (`shoal-runtime state ID`), with shoal's exit fields once it has stopped. */
export interface OciState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
  exitCode?: number;
  oomKilled?: boolean;
}

/** What this module needs of `<root>/<id>/state.json`. */
interface StateRecord {
  bundle: string;
  initPid: number;
  supervisorPid: number;
  /** /proc/PID/stat field 22, so that a reused pid is not taken for the supervisor. */
  supervisorStartTime: number;
  annotations: Record<string, string>;
}

/**
 * The runtime's rule for ids, which name a directory under its root: no '/', no leading dot; and
 * no leading '-', which its command line would take for an option.
 */
const CONTAINER_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,1023}$/;

export class RuntimeContainer {
  private constructor(
    readonly id: string,
    private readonly runtimePath: string,
    private readonly root: string,
    private readonly record: StateRecord,
  ) {}

  /**
   * Writes `spec` as `<bundle>/config.json` and creates the container: namespaces, mounts and
   * cgroup set up, its process waiting for `start`. Without `spec.log` the output goes to
   * `<bundle>/container.log`.
   */
  static async create(id: string, bundle: string, spec: ContainerSpec, opts: RuntimeOptions = {}): Promise<RuntimeContainer> {
    await writeBundle(id, bundle, spec);
    await runtimeCommand(opts, ['create', '--bundle', bundle, id]);
    return RuntimeContainer.fromState(id, opts);
  }

  /** create and start in one runtime command (`run --detach`): the fast path. */
  static async run(id: string, bundle: string, spec: ContainerSpec, opts: RuntimeOptions = {}): Promise<RuntimeContainer> {
    await writeBundle(id, bundle, spec);
    await runtimeCommand(opts, ['run', '--detach', '--bundle', bundle, id]);
    return RuntimeContainer.fromState(id, opts);
  }

  /** The container `id` as the runtime recorded it, created by this process or another; undefined if unknown. */
  static attach(id: string, opts: RuntimeOptions = {}): RuntimeContainer | undefined {
    if (!CONTAINER_ID.test(id)) return undefined;
    const root = opts.root ?? DEFAULT_STATE_ROOT;
    let text: string;
    try {
      text = readFileSync(join(root, id, 'state.json'), 'utf8');
    } catch {
      return undefined;
    }
    return new RuntimeContainer(id, opts.runtimePath ?? defaultRuntimePath(), root, parseStateRecord(text, id));
  }

  /**
   * Removes whatever the runtime holds for `id`, a container whose create died before recording
   * its state included (its cgroup and directory, which `attach` cannot see); nothing if it holds
   * nothing.
   */
  static async forceDelete(id: string, opts: RuntimeOptions = {}): Promise<void> {
    await runtimeCommand(opts, ['delete', '--force', id]);
  }

  private static fromState(id: string, opts: RuntimeOptions): RuntimeContainer {
    const container = RuntimeContainer.attach(id, opts);
    if (!container) throw new Error(`shoal-runtime left no state for ${id}`);
    return container;
  }

  get bundle(): string {
    return this.record.bundle;
  }

  /** The container's init as the host sees it (it is pid 1 inside). */
  get initPid(): number {
    return this.record.initPid;
  }

  get supervisorPid(): number {
    return this.record.supervisorPid;
  }

  /** Where the container's output goes, or undefined if it shares the runtime's stdio. */
  get logPath(): string | undefined {
    return this.record.annotations[ANNOTATIONS.logPath];
  }

  /** Starts the created container's process; resolves once the runtime has started it. */
  async start(): Promise<void> {
    await this.command(['start', this.id]);
  }

  /** How it ended, or undefined while it runs (or if it has been deleted). */
  exit(): ContainerExit | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.root, this.id, 'exit'), 'utf8');
    } catch {
      return undefined;
    }
    const parsed = JSON.parse(text) as Partial<ContainerExit>;
    if (!Number.isInteger(parsed.exitCode)) throw new Error(`bad exit file for ${this.id}: ${text}`);
    return { exitCode: parsed.exitCode!, oomKilled: parsed.oomKilled === true };
  }

  /** The supervisor is alive. False with no exit recorded means it died without recording one. */
  supervisorAlive(): boolean {
    return isAlive(this.record.supervisorPid, this.record.supervisorStartTime || undefined);
  }

  async wait(opts: { pollMs?: number; signal?: AbortSignal } = {}): Promise<ContainerExit> {
    for (;;) {
      const exit = this.exit();
      if (exit) return exit;
      if (!this.supervisorAlive()) {
        // It may have written the file between the two checks.
        const late = this.exit();
        if (late) return late;
        throw new Error(`the supervisor of ${this.id} died without recording an exit`);
      }
      await delay(opts.pollMs ?? 50, undefined, { signal: opts.signal });
    }
  }

  /** Asks the supervisor to stop the container: the stop signal, then SIGKILL after the stop timeout. */
  stop(): void {
    if (!this.supervisorAlive()) return;
    try {
      process.kill(this.record.supervisorPid, 'SIGTERM');
    } catch (error) {
      // It ended between the check and the signal.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** Sends `signal` (a name or number) to the container's init. */
  async kill(signal: string | number = 'SIGTERM'): Promise<void> {
    await this.command(['kill', this.id, String(signal)]);
  }

  /** Removes the runtime's state and the cgroup; `force` kills a container still running first. */
  async delete(opts: { force?: boolean } = {}): Promise<void> {
    await this.command(['delete', ...(opts.force ? ['--force'] : []), this.id]);
  }

  /** The runtime's view (`shoal-runtime state`). */
  async state(): Promise<OciState> {
    return JSON.parse(await this.command(['state', this.id])) as OciState;
  }

  /** Runs `args` in the running container (its namespaces and cgroup) and collects its output. */
  exec(args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return runtimeExec({ runtimePath: this.runtimePath, root: this.root, id: this.id }, args, opts);
  }

  /** Every log entry still kept, oldest first (rotated files included). */
  logs(): Promise<LogEntry[]> {
    return this.logPath === undefined ? Promise.resolve([]) : readRotatedLogEntries(this.logPath);
  }

  private command(args: string[]): Promise<string> {
    return runtimeCommand({ runtimePath: this.runtimePath, root: this.root }, args);
  }
}

async function writeBundle(id: string, bundle: string, spec: ContainerSpec): Promise<void> {
  if (!CONTAINER_ID.test(id)) throw new Error(`invalid container id ${JSON.stringify(id)}`);
  const full: ContainerSpec = { ...spec, log: spec.log ?? { path: join(bundle, 'container.log') } };
  checkContainerSpec(full);
  // Before anything is made: an unknown user name fails here, with nothing to clean up.
  const user = await resolveUser(spec.user, spec);
  const config = renderOciConfig(buildOciConfig(full, { lastCap: kernelLastCap(), user }));
  await mkdir(bundle, { recursive: true, mode: 0o700 });
  // An overlay root is mounted on an empty directory; the layers' upper and work must exist too.
  if (spec.overlay) {
    for (const dir of [spec.rootfs, spec.overlay.work]) await mkdir(dir, { recursive: true, mode: 0o700 });
    // The merged root directory shows the upper one's mode: 0755 (whatever the umask), so that a
    // user other than root can walk it. One made before is left as the container changed it.
    if ((await mkdir(spec.overlay.upper, { recursive: true })) !== undefined) await chmod(spec.overlay.upper, 0o755);
  }
  await writeFileAtomic(join(bundle, 'config.json'), config);
}

/** The running kernel's highest capability number, for "ALL"; the builder's own list if unreadable. */
function kernelLastCap(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function parseStateRecord(text: string, id: string): StateRecord {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const number = (key: string): number => {
    const value = raw[key];
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new Error(`state of ${id}: ${key} missing or not an integer`);
    return value;
  };
  return {
    bundle: String(raw.bundle),
    initPid: number('pid'),
    supervisorPid: number('supervisorPid'),
    supervisorStartTime: number('supervisorStartTime'),
    annotations: (raw.annotations as Record<string, string> | undefined) ?? {},
  };
}

/**
 * Runs one runtime command and resolves with its stdout; rejects with its stderr (the runtime's
 * one-line reason) when it fails.
 */
function runtimeCommand(opts: RuntimeOptions, args: string[]): Promise<string> {
  const runtimePath = opts.runtimePath ?? defaultRuntimePath();
  return new Promise((resolve, reject) => {
    // detached: the short-lived command gets its own process group, so a signal to the worker's
    // group while it runs does not hit it half-way (the supervisor makes its own session anyway).
    const child = spawn(runtimePath, ['--root', opts.root ?? DEFAULT_STATE_ROOT, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(stderr.trim() || `shoal-runtime ${args[0]} exited with ${code ?? signal}`));
    });
  });
}
