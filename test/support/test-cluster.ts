/**
 * A real cluster for integration tests: manager processes (ManagerProcess) on loopback with temp
 * state, fake nodes (FakeNodeSimulator) in the test process, and the real `shoal` CLI run as a child
 * process. close() removes everything, also after a failure.
 *
 * The CLI always runs asynchronously: a synchronous spawn would freeze this process, and with it
 * the fake nodes' heartbeats.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, SHOAL_JS } from './daemon-process.js';
import { freePort } from '../../src/common/testing/free-port.js';
import { ManagerProcess, type ManagerProcessOptions } from './manager-process.js';
import { FakeNodeSimulator, type FakeNodeOptions } from './node-simulator.js';
import { waitFor } from './wait-for.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestClusterOptions {
  managers: 1 | 3;
  /** The nodes' heartbeat period (short, so lost nodes are noticed quickly). Default 500ms. */
  heartbeatPeriod?: string;
}

const CLI_TIMEOUT_MS = 60_000;

export class TestCluster {
  readonly nodes: FakeNodeSimulator[] = [];
  /** The worker join token fake nodes join with. */
  workerToken = '';
  private nodeCount = 0;

  private constructor(
    readonly root: string,
    readonly managers: ManagerProcess[],
  ) {}

  static async start(opts: TestClusterOptions): Promise<TestCluster> {
    if (!existsSync(SHOAL_JS)) throw new Error(`${SHOAL_JS} is missing: run 'npm run build' before the integration tests`);
    const root = mkdtempSync(join(tmpdir(), 'shoal-it-'));
    const first = ManagerProcess.start({
      dir: join(root, 'm1'),
      listenAddr: `127.0.0.1:${await freePort()}`,
      init: true,
      nodeId: 'm1',
      heartbeatPeriod: opts.heartbeatPeriod ?? '500ms',
    });
    const cluster = new TestCluster(root, [first]);
    try {
      await cluster.waitForLeader();
      cluster.workerToken = (await cluster.ok(['cluster', 'join-token', 'worker', '-q'])).trim();
      for (let i = 2; i <= opts.managers; i++) await cluster.joinManager();
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /**
   * Starts a manager that joins with the manager token through the first live manager, and
   * resolves once it holds a vote.
   */
  async joinManager(): Promise<ManagerProcess> {
    const via = this.managers.find((m) => m.alive);
    if (!via) throw new Error('no manager is running');
    const token = (await this.ok(['cluster', 'join-token', 'manager', '-q'])).trim();
    const manager = ManagerProcess.start({
      dir: join(this.root, `m${this.managers.length + 1}`),
      listenAddr: `127.0.0.1:${await freePort()}`,
      join: { address: via.address, token },
    });
    this.managers.push(manager);
    await waitFor(`${manager.opts.dir} to become a voting manager`, async () => {
      if (!manager.alive) throw new Error(`the joining manager exited:\n${manager.log()}`);
      const id = manager.id;
      if (id === undefined) return false;
      const info = await this.json<{ managers?: { raftId: string; suffrage?: string }[] }>(['cluster', 'info'], via);
      return info.managers?.some((m) => m.raftId === id && m.suffrage === 'voter') ?? false;
    }, 30_000, 100);
    return manager;
  }

  /** The managers' addresses, for fake nodes. */
  get addresses(): string[] {
    return this.managers.map((m) => m.address);
  }

  /** Runs `shoal --host <manager> ...args` (the first live manager unless `via` is given). */
  cli(args: string[], via?: ManagerProcess): Promise<CliResult> {
    const manager = via ?? this.managers.find((m) => m.alive);
    if (!manager) throw new Error('no manager is running');
    return runShoal(['--host', manager.host, ...args]);
  }

  /** Runs a CLI command that must succeed and returns its stdout parsed as JSON. */
  async json<T = unknown>(args: string[], via?: ManagerProcess): Promise<T> {
    const r = await this.cli([...args, '--format', 'json'], via);
    if (r.code !== 0) throw new Error(`shoal ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Runs a CLI command that must succeed; returns its stdout. */
  async ok(args: string[], via?: ManagerProcess): Promise<string> {
    const r = await this.cli(args, via);
    if (r.code !== 0) throw new Error(`shoal ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** The manager Raft says leads, once one does. */
  async waitForLeader(limitMs = 30_000): Promise<ManagerProcess> {
    let leader: ManagerProcess | undefined;
    await waitFor('a leader', async () => {
      const live = this.managers.find((m) => m.alive);
      if (!live) throw new Error(`every manager exited:\n${this.logs()}`);
      const r = await this.cli(['cluster', 'info', '--format', 'json'], live);
      if (r.code !== 0) return false;
      const info = JSON.parse(r.stdout) as { cluster?: unknown; managers?: { raftId: string; leader?: boolean }[] };
      const id = info.managers?.find((m) => m.leader)?.raftId;
      leader = this.managers.find((m) => m.alive && m.id === id);
      return info.cluster !== undefined && leader !== undefined;
    }, limitMs, 100);
    return leader!;
  }

  /** Starts a fake node with `labels` (plus group=<group>, for constraints that keep tests apart). */
  async addNode(group: string, options: Partial<FakeNodeOptions> = {}): Promise<FakeNodeSimulator> {
    const n = ++this.nodeCount;
    const node = new FakeNodeSimulator({
      managers: this.addresses,
      joinToken: this.workerToken,
      hostname: `${group}-${n}`,
      stepDelayMs: 5,
      ...options,
      labels: { group, ...options.labels },
    });
    this.nodes.push(node);
    await node.start();
    return node;
  }

  async addNodes(group: string, count: number, options: Partial<FakeNodeOptions> = {}): Promise<FakeNodeSimulator[]> {
    const nodes: FakeNodeSimulator[] = [];
    for (let i = 0; i < count; i++) nodes.push(await this.addNode(group, options));
    return nodes;
  }

  /** Replaces a stopped manager with a new process on its state directory. */
  restartManager(manager: ManagerProcess, extra: Partial<ManagerProcessOptions> = {}): ManagerProcess {
    const index = this.managers.indexOf(manager);
    const restarted = manager.restart(extra);
    this.managers[index] = restarted;
    return restarted;
  }

  /** Stops nodes and managers (SIGKILL for any that does not stop in time) and removes the temp dir. */
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await Promise.all(
      this.managers.map(async (m) => {
        const timer = setTimeout(() => void m.kill(), 10_000);
        await m.stop();
        clearTimeout(timer);
      }),
    );
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Every manager's log, for a failing test's report. */
  logs(): string {
    return this.managers.map((m) => `--- ${m.id ?? m.opts.dir} (${m.logFile})\n${m.log()}`).join('\n');
  }
}

export function runShoal(args: string[], timeoutMs = CLI_TIMEOUT_MS, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHOAL_JS, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}
