/**
 * Starting a container through the C shim and finding it again. Everything about one container
 * lives in one directory the caller owns: the shim's `config`, the `container.log`, the `pid` file
 * (supervisor pid, container init pid), `supervisor.json` (the supervisor's pid and start time, so
 * that a reused pid is not mistaken for it) and, once it has ended, the `exit` file.
 *
 * The shim command returns once the container has exec'd (or failed to), leaving a supervisor in
 * its own session; nothing here holds it, so a worker can exit and later `attach` to the directory.
 * Waiting is by polling the exit file: the supervisor is not our child after a restart, so there
 * is nothing to wait on, and the file is written by rename so a read sees all of it or nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { isAlive, readProcStat } from '../../common/proc-stat.js';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { renderShimConfig, type ContainerSpec, type ShimFiles } from './config.js';
import { readLogEntries, type LogEntry } from './logs.js';

/** The shim as `src/runtime/shim/build.sh` builds it: dist/shim/shoal-shim under the package root. */
export function defaultShimPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('shoal-shim: package root not found');
    dir = parent;
  }
  return join(dir, 'dist', 'shim', 'shoal-shim');
}

export interface StartOptions {
  shimPath?: string;
}

interface SupervisorRecord {
  pid: number;
  startTime: number;
  initPid: number;
}

export class ShimContainer {
  private constructor(
    readonly dir: string,
    private readonly supervisor: SupervisorRecord,
  ) {}

  static files(dir: string): ShimFiles {
    return { log: join(dir, 'container.log'), exit: join(dir, 'exit'), pid: join(dir, 'pid') };
  }

  /** Starts `spec` with `dir` as its state directory; resolves once the program has exec'd. */
  static async start(dir: string, spec: ContainerSpec, opts: StartOptions = {}): Promise<ShimContainer> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const files = ShimContainer.files(dir);
    const configPath = join(dir, 'config');
    await writeFile(configPath, renderShimConfig(spec, files), { mode: 0o600 });
    await runShim(opts.shimPath ?? defaultShimPath(), configPath);
    const [supervisorPid, initPid] = (await readFile(files.pid, 'utf8')).trim().split('\n').map(Number);
    if (!(supervisorPid > 0) || !(initPid > 0)) throw new Error(`shoal-shim wrote a bad pid file in ${dir}`);
    // Read while the supervisor still runs: it stays until the container's output is drained, but a
    // container that exits at once may take it with it; then the exit file tells the rest.
    const startTime = readProcStat(supervisorPid)?.startTime ?? 0;
    const record: SupervisorRecord = { pid: supervisorPid, startTime, initPid };
    await writeFileAtomic(join(dir, 'supervisor.json'), JSON.stringify(record));
    return new ShimContainer(dir, record);
  }

  /** The container recorded in `dir` by an earlier `start`, from this process or another. */
  static attach(dir: string): ShimContainer | undefined {
    let record: SupervisorRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, 'supervisor.json'), 'utf8')) as SupervisorRecord;
    } catch {
      return undefined;
    }
    return new ShimContainer(dir, record);
  }

  get supervisorPid(): number {
    return this.supervisor.pid;
  }

  /** The container's init as the host sees it (it is pid 1 inside). */
  get initPid(): number {
    return this.supervisor.initPid;
  }

  /** The exit code (128+signal if killed), or undefined while it runs. */
  exitCode(): number | undefined {
    let text: string;
    try {
      text = readFileSync(ShimContainer.files(this.dir).exit, 'utf8');
    } catch {
      return undefined;
    }
    const code = Number(text.trim());
    return Number.isInteger(code) ? code : undefined;
  }

  /** The supervisor is alive. False with no exit code means it died without recording one. */
  supervisorAlive(): boolean {
    return isAlive(this.supervisor.pid, this.supervisor.startTime || undefined);
  }

  async wait(opts: { pollMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    for (;;) {
      const code = this.exitCode();
      if (code !== undefined) return code;
      if (!this.supervisorAlive()) {
        // It may have written the file between the two checks.
        const late = this.exitCode();
        if (late !== undefined) return late;
        throw new Error(`the supervisor of ${this.dir} died without recording an exit`);
      }
      await delay(opts.pollMs ?? 50, undefined, { signal: opts.signal });
    }
  }

  /** Asks the supervisor to stop the container: stop signal, then SIGKILL after the grace period. */
  stop(): void {
    if (this.supervisorAlive()) process.kill(this.supervisor.pid, 'SIGTERM');
  }

  logs(): Promise<LogEntry[]> {
    return readLogEntries(ShimContainer.files(this.dir).log);
  }
}

/** Runs the shim command; it exits 0 once the container exec'd, or 1 with the reason on stderr. */
function runShim(shimPath: string, configPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // detached: the short-lived command gets its own process group, so a signal to the worker's
    // group while it runs does not hit it half-way (the supervisor makes its own session anyway).
    const child = spawn(shimPath, [configPath], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(stderr.trim() || `shoal-shim exited with ${code ?? signal}`));
    });
  });
}
