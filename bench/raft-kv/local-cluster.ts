/**
 * Runs a three-member cluster as child processes on 127.0.0.1 — raft-kv servers or real etcd, started
 * the same way — for the benchmark, the integration test and the demo. It allocates ports and a temp
 * directory, kills (SIGKILL) and restarts members, finds the leader through the etcd Status call,
 * and reads each member's fsync counter from its metrics page. Every process and directory it made is
 * removed by destroy(), and also when the process exits by any other path than a SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../src/common/testing/free-port.js';
import { EtcdClient } from './etcd-client.js';

export type Flavor = 'raft-kv' | 'etcd';

export interface Member {
  id: string;
  clientAddress: string;
  peerAddress: string;
  metricsAddress: string;
  dataDir: string;
  logFile: string;
}

export interface LocalClusterOptions {
  flavor: Flavor;
  /** For raft-kv: the compiled server entry point (dist/bench/raft-kv/main.js). */
  serverScript?: string;
  size?: number;
  /** Extra environment for the members (e.g. SHOAL_LOG_LEVEL). */
  env?: Record<string, string>;
}

/** The metric that counts WAL fsyncs on each flavour's metrics page. */
const FSYNC_METRIC: Record<Flavor, string> = {
  'raft-kv': 'raft_kv_fsyncs_total',
  etcd: 'etcd_disk_wal_fsync_duration_seconds_count',
};

const POLL_MS = 50;
/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

const liveClusters = new Set<LocalCluster>();
process.on('exit', () => {
  for (const cluster of liveClusters) cluster.destroySync();
});

export class LocalCluster {
  readonly members: Member[];
  private readonly processes = new Map<string, ChildProcess>();
  private readonly started = new Set<string>();
  private readonly clients = new Map<string, EtcdClient>();

  private constructor(
    private readonly opts: LocalClusterOptions,
    readonly baseDir: string,
    members: Member[],
  ) {
    this.members = members;
  }

  static async create(opts: LocalClusterOptions): Promise<LocalCluster> {
    if (opts.flavor === 'raft-kv' && !opts.serverScript) throw new Error('raft-kv cluster needs serverScript');
    const size = opts.size ?? 3;
    const baseDir = mkdtempSync(join(tmpdir(), `${opts.flavor}-cluster-`));
    const ports = await freePorts(size * 3);
    const members: Member[] = [];
    for (let i = 0; i < size; i++) {
      const id = `n${i + 1}`;
      members.push({
        id,
        clientAddress: `127.0.0.1:${ports[i * 3]}`,
        peerAddress: `127.0.0.1:${ports[i * 3 + 1]}`,
        metricsAddress: `127.0.0.1:${ports[i * 3 + 2]}`,
        dataDir: join(baseDir, id),
        logFile: join(baseDir, `${id}.log`),
      });
    }
    const cluster = new LocalCluster(opts, baseDir, members);
    liveClusters.add(cluster);
    return cluster;
  }

  get flavor(): Flavor {
    return this.opts.flavor;
  }

  endpoints(): string[] {
    return this.members.map((m) => m.clientAddress);
  }

  member(id: string): Member {
    const m = this.members.find((x) => x.id === id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  isRunning(id: string): boolean {
    return this.processes.has(id);
  }

  /** Starts every member that is not running. */
  startAll(): void {
    for (const m of this.members) if (!this.processes.has(m.id)) this.startMember(m.id);
  }

  startMember(id: string): void {
    const member = this.member(id);
    if (this.processes.has(id)) throw new Error(`${id} is already running`);
    mkdirSync(member.dataDir, { recursive: true });
    const firstStart = !this.started.has(id);
    this.started.add(id);
    const { file, args } = this.command(member, firstStart);
    const log = openSync(member.logFile, 'a');
    // raft-kv members watch their stdin and exit when it closes, so they never outlive this process.
    const child = spawn(file, args, {
      stdio: [this.opts.flavor === 'raft-kv' ? 'pipe' : 'ignore', log, log],
      env: { ...process.env, ...this.opts.env },
    });
    closeSync(log);
    this.processes.set(id, child);
    child.once('exit', () => {
      if (this.processes.get(id) === child) this.processes.delete(id);
    });
  }

  /** kill -9, and waits until the process is gone. */
  async kill(id: string): Promise<void> {
    const child = this.processes.get(id);
    if (!child) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill('SIGKILL');
    await exited;
    this.processes.delete(id);
  }

  /** A client for one member's client address (kept for the cluster's lifetime). */
  client(id: string): EtcdClient {
    let c = this.clients.get(id);
    if (!c) {
      c = new EtcdClient(this.member(id).clientAddress);
      this.clients.set(id, c);
    }
    return c;
  }

  /** The member that reports itself leader, once one does and every running member answers. */
  async waitForLeader(timeoutMs = 30_000): Promise<Member> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.currentLeader();
      if (leader) return leader;
      if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms\n${this.logTails()}`);
      await sleep(POLL_MS);
    }
  }

  /**
   * Waits until every running member answers, agrees on one leader and has applied what that leader
   * had committed when the wait began (a restarted member has caught up).
   */
  async waitForSettled(timeoutMs = 30_000): Promise<Member> {
    const deadline = Date.now() + timeoutMs;
    const leader = await this.waitForLeader(timeoutMs);
    const target = (await this.client(leader.id).status(1000)).raftIndex;
    for (;;) {
      const statuses = await Promise.all(
        this.runningMembers().map((m) => this.client(m.id).status(1000).catch(() => undefined)),
      );
      const leaderIds = new Set(statuses.map((s) => s?.leader));
      const caughtUp = statuses.every((s) => s !== undefined && s.raftAppliedIndex >= target);
      if (caughtUp && leaderIds.size === 1 && !leaderIds.has('0')) return (await this.currentLeader()) ?? leader;
      if (Date.now() > deadline) throw new Error(`cluster did not settle within ${timeoutMs} ms\n${this.logTails()}`);
      await sleep(POLL_MS);
    }
  }

  async currentLeader(): Promise<Member | undefined> {
    for (const m of this.runningMembers()) {
      try {
        const s = await this.client(m.id).status(500);
        if (s.leader !== '0' && s.leader === s.header.memberId) return m;
      } catch {
        // Not up yet, or restarting: ask the next one.
      }
    }
    return undefined;
  }

  runningMembers(): Member[] {
    return this.members.filter((m) => this.processes.has(m.id));
  }

  /** The WAL fsyncs a member has made since it started, from its metrics page. */
  async fsyncs(id: string): Promise<number> {
    const res = await fetch(`http://${this.member(id).metricsAddress}/metrics`);
    const text = await res.text();
    const metric = FSYNC_METRIC[this.opts.flavor];
    const line = text.split('\n').find((l) => l.startsWith(`${metric} `));
    if (!line) throw new Error(`${id}: metric ${metric} not found`);
    return Number(line.slice(metric.length + 1));
  }

  /** CPU time (user + system) a running member's process has used, in ms, from /proc. */
  cpuMs(id: string): number | undefined {
    const pid = this.processes.get(id)?.pid;
    if (pid === undefined) return undefined;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
    } catch {
      return undefined;
    }
  }

  /** The last lines of every member's log, to explain a failure. */
  logTails(lines = 15): string {
    return this.members
      .map((m) => {
        let text = '';
        try {
          text = readFileSync(m.logFile, 'utf8');
        } catch {
          text = '(no log)';
        }
        return `--- ${m.id} (${m.logFile}) ---\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
      })
      .join('\n');
  }

  async destroy(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await Promise.all([...this.processes.keys()].map((id) => this.kill(id)));
    rmSync(this.baseDir, { recursive: true, force: true });
    liveClusters.delete(this);
  }

  /** The synchronous part of destroy(), for the process exit handler. */
  destroySync(): void {
    for (const child of this.processes.values()) child.kill('SIGKILL');
    this.processes.clear();
    rmSync(this.baseDir, { recursive: true, force: true });
    liveClusters.delete(this);
  }

  private command(member: Member, firstStart: boolean): { file: string; args: string[] } {
    if (this.opts.flavor === 'raft-kv') {
      const peers = this.members.map((m) => `${m.id}=${m.peerAddress}`).join(',');
      const args = [
        this.opts.serverScript!,
        '--id', member.id,
        '--raft-addr', member.peerAddress,
        '--client-addr', member.clientAddress,
        '--peers', peers,
        '--data-dir', member.dataDir,
        '--metrics-addr', member.metricsAddress,
        '--exit-on-stdin-eof',
      ];
      if (firstStart) args.push('--bootstrap');
      return { file: process.execPath, args };
    }
    const cluster = this.members.map((m) => `${m.id}=http://${m.peerAddress}`).join(',');
    return {
      file: 'etcd',
      args: [
        '--name', member.id,
        '--data-dir', member.dataDir,
        '--listen-client-urls', `http://${member.clientAddress}`,
        '--advertise-client-urls', `http://${member.clientAddress}`,
        '--listen-peer-urls', `http://${member.peerAddress}`,
        '--initial-advertise-peer-urls', `http://${member.peerAddress}`,
        '--listen-metrics-urls', `http://${member.metricsAddress}`,
        '--initial-cluster', cluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'raft-kv-bench',
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
    };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
