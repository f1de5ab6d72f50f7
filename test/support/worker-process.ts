/**
 * A real `shoal worker` process for integration tests: `node dist/cmd/shoal.js worker` with the
 * fake executor (plain sleep processes), its own state directory and a log file, joined with a
 * token. Build first (`npm run build`).
 */
import { join } from 'node:path';
import { FakeExecutor } from '../../src/agent/fake-executor.js';
import { loadNodeCredentials } from '../../src/manager/ca/index.js';
import { DaemonProcess } from './daemon-process.js';

export interface WorkerProcessOptions {
  /** A directory of its own: state/ and worker.log go there. */
  dir: string;
  managers: string[];
  token: string;
  hostname: string;
  labels?: Record<string, string>;
}

export class WorkerProcess extends DaemonProcess {
  readonly stateDir: string;

  private constructor(readonly opts: WorkerProcessOptions) {
    const args = ['worker', '--state-dir', join(opts.dir, 'state'), '--token', opts.token, '--hostname', opts.hostname, '--executor', 'fake'];
    for (const manager of opts.managers) args.push('--join', manager);
    for (const [key, value] of Object.entries(opts.labels ?? {})) args.push('--label', `${key}=${value}`);
    super(args, join(opts.dir, 'worker.log'));
    this.stateDir = join(opts.dir, 'state');
  }

  static start(opts: WorkerProcessOptions): WorkerProcess {
    return new WorkerProcess(opts);
  }

  /** The node id in its certificate, once it has joined. */
  get id(): string | undefined {
    return loadNodeCredentials(this.stateDir)?.nodeId;
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
}
