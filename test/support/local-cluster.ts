/**
 * A cluster made by `deploy/local-cluster.sh`, driven from tests and benchmarks: every node a real
 * `shoal` daemon in a network namespace of its own, workers running real containers, and the
 * real CLI (`node dist/cmd/shoal.js`) talking to the managers' sockets. Build first (`make build`).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, SHOAL_JS } from './daemon-process.js';
import { runCommand, type CommandResult } from './run-command.js';

export type { CommandResult };

const execFileAsync = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'deploy', 'local-cluster.sh');

export interface LocalClusterOptions {
  /** Names its namespaces, cgroups and processes; distinct from the demo's `shoal`. */
  name: string;
  /** Where its state lives (removed by down). */
  dir: string;
  managers?: number;
  workers?: number;
  /** e.g. `1s`, so that a lost worker is noticed within seconds. */
  heartbeatPeriod?: string;
  /** The workers' --dns-upstream (SHOAL_DNS_UPSTREAM); the script's `none` when absent. */
  dnsUpstream?: string;
}

export class LocalCluster {
  /** What `up` wrote to DIR/cluster.env: SHOAL_HOST and SHOAL_REGISTRY among them. */
  readonly env: Readonly<Record<string, string>>;

  private constructor(private readonly options: LocalClusterOptions) {
    this.env = readEnvFile(join(options.dir, 'cluster.env'));
  }

  /** Starts the cluster (`up`); throws with the script's output if it fails. */
  static async up(options: LocalClusterOptions): Promise<LocalCluster> {
    const args = ['up', '--managers', String(options.managers ?? 1), '--workers', String(options.workers ?? 1)];
    if (options.heartbeatPeriod) args.push('--heartbeat-period', options.heartbeatPeriod);
    await script(options, args);
    return new LocalCluster(options);
  }

  /** Removes everything the cluster made; safe to call on a cluster that failed half-way up. */
  static async down(options: Pick<LocalClusterOptions, 'name' | 'dir'>): Promise<void> {
    await script(options, ['down']);
  }

  /** `$SHOAL_REGISTRY/busybox:latest`, the base image every worker can pull. */
  get baseImage(): string {
    return `${this.env.SHOAL_REGISTRY}/busybox:latest`;
  }

  /** Runs the real CLI against the cluster's managers; never throws on a non-zero exit. */
  shoal(...args: string[]): Promise<CommandResult> {
    return runCommand(process.execPath, [SHOAL_JS, ...args], { ...process.env, SHOAL_HOST: this.env.SHOAL_HOST });
  }

  /** The CLI's output when it succeeds; throws with its stderr when it does not. */
  async shoalOk(...args: string[]): Promise<string> {
    const r = await this.shoal(...args);
    if (r.code !== 0) throw new Error(`shoal ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** The CLI's `--format json` output of a command, parsed. */
  async json<T>(...args: string[]): Promise<T> {
    return JSON.parse(await this.shoalOk(...args, '--format', 'json')) as T;
  }

  /** SIGTERM (or SIGKILL with `kill`) to a node's daemon; a worker's containers keep running. */
  async stop(node: string, options: { kill?: boolean } = {}): Promise<void> {
    await script(this.options, ['stop', node, ...(options.kill ? ['--kill'] : [])]);
  }

  /** Starts a stopped node's daemon again on its state. */
  async start(node: string): Promise<void> {
    await script(this.options, ['start', node]);
  }

  /** Adds a worker; resolves with its name (w3, ...). */
  async addWorker(): Promise<string> {
    return (await script(this.options, ['add-worker'])).trim().split('\n').pop()!.trim();
  }

  /** The pid of a node's daemon, as the script recorded it. */
  daemonPid(node: string): number {
    return Number(readFileSync(join(this.options.dir, 'nodes', node, 'pid'), 'utf8').trim());
  }

  /** A node's daemon log (pino JSON lines), for failure messages. */
  daemonLog(node: string): string {
    return readFileSync(join(this.options.dir, 'nodes', node, 'daemon.log'), 'utf8');
  }

  async down(): Promise<void> {
    await LocalCluster.down(this.options);
  }
}

async function script(options: Pick<LocalClusterOptions, 'name' | 'dir' | 'dnsUpstream'>, args: string[]): Promise<string> {
  const argv = [SCRIPT, ...args, '--name', options.name, '--dir', options.dir];
  // Every command that starts a worker (up, start, add-worker) writes its command line anew.
  const env = options.dnsUpstream === undefined ? process.env : { ...process.env, SHOAL_DNS_UPSTREAM: options.dnsUpstream };
  try {
    const { stdout } = await execFileAsync('bash', argv, { cwd: REPO_ROOT, env, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`local-cluster.sh ${args.join(' ')} failed: ${failed.stderr || failed.message}\n${failed.stdout ?? ''}`);
  }
}

function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}
