/**
 * Real manager processes for integration tests and benchmarks: `shoal manager` on 127.0.0.1 with
 * its own state directory and socket under a caller-given root, logging to a file there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadNodeCredentials } from '../../src/manager/ca/index.js';
import { DaemonProcess } from './daemon-process.js';

export interface ManagerProcessOptions {
  /** A directory of its own: state/, shoal.sock and manager.log go there. */
  dir: string;
  /** 127.0.0.1:PORT (pick one with freePort(), src/common/testing/free-port.ts). */
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

export class ManagerProcess extends DaemonProcess {
  readonly socket: string;
  readonly stateDir: string;

  private constructor(readonly opts: ManagerProcessOptions) {
    const args = [
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
    super(args, join(opts.dir, 'manager.log'));
    this.socket = join(opts.dir, 'shoal.sock');
    this.stateDir = join(opts.dir, 'state');
  }

  static start(opts: ManagerProcessOptions): ManagerProcess {
    return new ManagerProcess(opts);
  }

  get address(): string {
    return this.opts.listenAddr;
  }

  /** The node id in this manager's certificate; undefined until it has one (a join takes a moment). */
  get id(): string | undefined {
    return this.opts.nodeId ?? loadNodeCredentials(this.stateDir)?.nodeId;
  }

  /** The CLI's --host value for this manager. */
  get host(): string {
    return `unix://${this.socket}`;
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
}
