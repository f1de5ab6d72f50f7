/**
 * A real `shoal worker` process for integration tests: `node dist/cmd/shoal.js worker` with the
 * fake executor (plain sleep processes), its own state directory and a log file, joined with a
 * token. Build first (`npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeExecutor } from '../../src/agent/fake-executor.js';
import { loadNodeCredentials } from '../../src/manager/ca/index.js';
import { REPO_ROOT, SHOAL_JS } from './manager-process.js';

export interface WorkerProcessOptions {
  /** A directory of its own: state/ and worker.log go there. */
  dir: string;
  managers: string[];
  token: string;
  hostname: string;
  labels?: Record<string, string>;
}

export class WorkerProcess {
  readonly stateDir: string;
  readonly logFile: string;
  readonly exited: Promise<number | string>;
  private exitedWith: number | string | undefined;

  private constructor(
    readonly opts: WorkerProcessOptions,
    private readonly child: ChildProcess,
  ) {
    this.stateDir = join(opts.dir, 'state');
    this.logFile = join(opts.dir, 'worker.log');
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => {
        this.exitedWith = code ?? signal ?? 'unknown';
        resolveExit(this.exitedWith);
      }),
    );
  }

  static start(opts: WorkerProcessOptions): WorkerProcess {
    mkdirSync(opts.dir, { recursive: true });
    const args = [SHOAL_JS, 'worker', '--state-dir', join(opts.dir, 'state'), '--token', opts.token, '--hostname', opts.hostname, '--executor', 'fake'];
    for (const manager of opts.managers) args.push('--join', manager);
    for (const [key, value] of Object.entries(opts.labels ?? {})) args.push('--label', `${key}=${value}`);
    const log = openSync(join(opts.dir, 'worker.log'), 'a');
    try {
      return new WorkerProcess(opts, spawn(process.execPath, args, { stdio: ['ignore', log, log], cwd: REPO_ROOT }));
    } finally {
      closeSync(log);
    }
  }

  get alive(): boolean {
    return this.exitedWith === undefined;
  }

  /** The node id in its certificate, once it has joined. */
  get id(): string | undefined {
    return loadNodeCredentials(this.stateDir)?.nodeId;
  }

  /** SIGTERM: the worker stops and leaves its tasks running. */
  async stop(): Promise<number | string> {
    if (this.alive) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** SIGKILL: the worker dies at once; its tasks' processes live on, orphaned. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** A new process on the same state directory (it needs no token: it has its certificate). */
  restart(): WorkerProcess {
    if (this.alive) throw new Error('restart a worker only after it stopped');
    return WorkerProcess.start(this.opts);
  }

  /** Kills every task process this worker's fake executor ever started (test cleanup). */
  killTasks(): void {
    FakeExecutor.killAll(join(this.stateDir, 'fake-executor'));
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}
