/**
 * Real manager processes for integration tests and benchmarks: `node dist/cmd/shoal.js manager`
 * on 127.0.0.1 with its own state directory and socket under a caller-given root, logging to a file
 * there. Build first (`npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNodeCredentials } from '../../src/manager/ca/index.js';

/** The repository root, whether this runs from test/support or dist/test/support. */
export const REPO_ROOT = findRepoRoot();
export const SHOAL_JS = join(REPO_ROOT, 'dist', 'cmd', 'shoal.js');

export interface ManagerProcessOptions {
  /** A directory of its own: state/, shoal.sock and manager.log go there. */
  dir: string;
  /** 127.0.0.1:PORT (pick one with freePort()). */
  listenAddr: string;
  init?: boolean;
  /** The --node-id of a manager started with --init. */
  nodeId?: string;
  /** --join ADDRESS --token TOKEN: join the cluster of the manager at `address`. */
  join?: { address: string; token: string };
  /** Restart as the only voter of a new configuration (quorum-loss recovery). */
  forceNewCluster?: boolean;
  /** e.g. "500ms": the nodes' heartbeat period, if this manager creates the cluster. */
  heartbeatPeriod?: string;
  logLevel?: string;
}

export class ManagerProcess {
  readonly socket: string;
  readonly stateDir: string;
  readonly logFile: string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
  private exitedWith: number | string | undefined;

  private constructor(
    readonly opts: ManagerProcessOptions,
    private readonly child: ChildProcess,
  ) {
    this.socket = join(opts.dir, 'shoal.sock');
    this.stateDir = join(opts.dir, 'state');
    this.logFile = join(opts.dir, 'manager.log');
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => {
        this.exitedWith = code ?? signal ?? 'unknown';
        resolveExit(this.exitedWith);
      }),
    );
  }

  static start(opts: ManagerProcessOptions): ManagerProcess {
    mkdirSync(opts.dir, { recursive: true });
    const args = [
      SHOAL_JS,
      'manager',
      '--state-dir', join(opts.dir, 'state'),
      '--listen-addr', opts.listenAddr,
      '--socket', join(opts.dir, 'shoal.sock'),
      '--log-level', opts.logLevel ?? 'info',
    ];
    if (opts.init) args.push('--init');
    if (opts.nodeId) args.push('--node-id', opts.nodeId);
    if (opts.join) args.push('--join', opts.join.address, '--token', opts.join.token);
    if (opts.forceNewCluster) args.push('--force-new-cluster');
    if (opts.heartbeatPeriod) args.push('--heartbeat-period', opts.heartbeatPeriod);
    const log = openSync(join(opts.dir, 'manager.log'), 'a');
    try {
      const child = spawn(process.execPath, args, { stdio: ['ignore', log, log], cwd: REPO_ROOT });
      return new ManagerProcess(opts, child);
    } finally {
      closeSync(log);
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get address(): string {
    return this.opts.listenAddr;
  }

  /** The node id in this manager's certificate; undefined until it has one (a join takes a moment). */
  get id(): string | undefined {
    return this.opts.nodeId ?? loadNodeCredentials(this.stateDir)?.nodeId;
  }

  get alive(): boolean {
    return this.exitedWith === undefined;
  }

  /** The CLI's --host value for this manager. */
  get host(): string {
    return `unix://${this.socket}`;
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

  /** Starts a new process on the same directory and address (without --init or --join, which applied once). */
  restart(extra: Partial<ManagerProcessOptions> = {}): ManagerProcess {
    if (this.alive) throw new Error('restart a manager only after it stopped');
    return ManagerProcess.start({ ...this.opts, init: false, join: undefined, forceNewCluster: false, ...extra });
  }

  /** The manager's peak resident memory (VmHWM) in bytes, while it runs. */
  peakRssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (!match) throw new Error(`no VmHWM in /proc/${this.pid}/status`);
    return Number(match[1]) * 1024;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function findRepoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // test/support → ../..; dist/test/support → ../../..
  const up = here.includes(`${join('dist', 'test')}`) ? '../../..' : '../..';
  return resolve(here, up);
}
