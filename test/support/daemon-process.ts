/**
 * A `shoal` daemon (manager or worker) run as a child process for tests and benchmarks:
 * `node dist/cmd/shoal.js ARGS` with its output appended to a log file, and the ways to end it.
 * Build first (`npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../src/common/package-root.js';

/** The repository root, whether this runs from test/support or dist/test/support. */
export const REPO_ROOT = packageRoot();
export const SHOAL_JS = join(REPO_ROOT, 'dist', 'cmd', 'shoal.js');

export class DaemonProcess {
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
  private exitedWith: number | string | undefined;
  private readonly child: ChildProcess;

  protected constructor(
    args: string[],
    readonly logFile: string,
  ) {
    mkdirSync(dirname(logFile), { recursive: true });
    const log = openSync(logFile, 'a');
    try {
      this.child = spawn(process.execPath, [SHOAL_JS, ...args], { stdio: ['ignore', log, log], cwd: REPO_ROOT });
    } finally {
      closeSync(log);
    }
    this.exited = new Promise((resolveExit) =>
      this.child.once('exit', (code, signal) => {
        this.exitedWith = code ?? signal ?? 'unknown';
        resolveExit(this.exitedWith);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitedWith === undefined;
  }

  /** SIGTERM, and wait for the exit code. */
  async stop(): Promise<number | string> {
    if (this.alive) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** SIGKILL: the process dies at once, mid-whatever. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}
