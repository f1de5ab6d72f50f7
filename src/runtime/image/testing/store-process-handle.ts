/**
 * The test side of `store-process.ts`: starts it as a child Node process (from dist/, built by
 * `npm run build` like the daemons), reads its output lines, ends it gently or with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../../test/support/daemon-process.js';

const HELPER = join(REPO_ROOT, 'dist', 'src', 'runtime', 'image', 'testing', 'store-process.js');

export class StoreProcess {
  readonly lines: string[] = [];
  stderr = '';
  /** The exit code, or the signal's name. */
  readonly exited: Promise<number | string>;
  private readonly child: ChildProcess;
  private readonly waiters: (() => void)[] = [];
  private closed = false;

  constructor(args: string[]) {
    if (!existsSync(HELPER)) throw new Error(`${HELPER} is missing: run 'npm run build' first`);
    this.child = spawn(process.execPath, [HELPER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    // 'close', not 'exit': by then every line it printed has been read.
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        this.closed = true;
        for (const wake of this.waiters.splice(0)) wake();
        resolve(code ?? signal ?? 'unknown');
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first output line `match` accepts; fails if the process exits without printing one. */
  async line(match: (line: string) => boolean): Promise<string> {
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (this.closed) throw new Error(`store process ${this.pid} exited without the expected line; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Closes its stdin (a holder then releases and exits) and waits for the exit code. */
  async finish(): Promise<number | string> {
    this.child.stdin!.end();
    return this.exited;
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
