/**
 * One raft-kv member: a RaftNode over the real storage (WAL, stable store, snapshot files under the
 * data directory) and the gRPC Raft transport, the KV FSM, the etcd-compatible client service, and
 * an optional Prometheus-style metrics page. Whenever this member becomes leader it replicates its
 * client address, so the followers know where to forward requests.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { systemClock } from '../../src/common/clock.js';
import type { Logger } from '../../src/common/logger.js';
import { RaftNode } from '../../src/raft/node.js';
import { FileSnapshotStore, FileStableStore, WalLogStore } from '../../src/raft/storage/index.js';
import { GrpcTransport } from '../../src/raft/transport/grpc.js';
import type { ServerAddress, ServerId } from '../../src/raft/types.js';
import { encodeCommand } from './commands.js';
import { EtcdService, toGrpcStatus } from './etcd-service.js';
import { UnaryGrpcServer } from './h2-grpc/server.js';
import { KvFsm } from './kv-fsm.js';
import { LeaderForwarder } from './leader-forwarder.js';
import { clusterId } from './member-id.js';

export interface RaftKvServerOptions {
  id: ServerId;
  raftAddress: ServerAddress;
  clientAddress: string;
  /** Every member of the cluster, this one included. */
  peers: { id: ServerId; address: ServerAddress }[];
  dataDir: string;
  /** Seed a new cluster with `peers` if this member has no state yet (ignored otherwise). */
  bootstrap: boolean;
  /** host:port of the metrics page (GET /metrics); none if absent. */
  metricsAddress?: string;
  logger: Logger;
  /** How long a client request may wait for Raft. Default 5000. */
  requestTimeoutMs?: number;
}

const VERSION = 'raft-kv 0.1.0';
/** Pause between attempts to announce this leader's client address while it stays leader. */
const ANNOUNCE_RETRY_MS = 100;

export class RaftKvServer {
  private closed = false;

  private constructor(
    private readonly opts: RaftKvServerOptions,
    private readonly node: RaftNode,
    private readonly transport: GrpcTransport,
    private readonly logStore: WalLogStore,
    private readonly stableStore: FileStableStore,
    private readonly forwarder: LeaderForwarder,
    private readonly clientServer: UnaryGrpcServer,
    private readonly metricsServer: HttpServer | undefined,
  ) {}

  static async start(opts: RaftKvServerOptions): Promise<RaftKvServer> {
    const { logger } = opts;
    const fsm = new KvFsm();
    const logStore = new WalLogStore({ dir: join(opts.dataDir, 'wal'), logger });
    const stableStore = new FileStableStore({ dir: join(opts.dataDir, 'stable') });
    const snapshotStore = new FileSnapshotStore({ dir: join(opts.dataDir, 'snapshots') });
    const transport = await GrpcTransport.listen({ address: opts.raftAddress, logger });
    const node = new RaftNode({ id: opts.id, fsm, logStore, stableStore, snapshotStore, transport, logger });

    const stats = node.stats();
    if (opts.bootstrap && stats.term === 0 && stats.lastLogIndex === 0 && stats.lastSnapshotIndex === 0) {
      node.bootstrapCluster({ servers: opts.peers.map((p) => ({ ...p, suffrage: 'voter' as const })) });
    }

    const forwarder = new LeaderForwarder(
      {
        leaderClientAddress: () => {
          const leader = node.leader();
          return leader && leader.id !== opts.id ? fsm.clientAddressOf(leader.id) : undefined;
        },
      },
      systemClock,
    );
    const metricsServer = opts.metricsAddress ? await serveMetrics(opts.metricsAddress, () => metrics(node, logStore)) : undefined;
    let term = stats.term;
    const service = new EtcdService({
      id: opts.id,
      clusterId: clusterId(opts.peers.map((p) => p.id)),
      node,
      fsm,
      forwarder,
      currentTerm: () => term,
      requestTimeoutMs: opts.requestTimeoutMs ?? 5000,
      version: VERSION,
    });
    const clientServer = new UnaryGrpcServer(service.routes, toGrpcStatus);
    const { host, port } = splitHostPort(opts.clientAddress);
    await clientServer.listen(host, port);
    const server = new RaftKvServer(opts, node, transport, logStore, stableStore, forwarder, clientServer, metricsServer);

    node.observe((o) => {
      term = o.term;
      if (o.type === 'leader' && o.leader?.id === opts.id) void server.announce();
    });
    node.start();
    logger.info({ id: opts.id, raft: opts.raftAddress, client: opts.clientAddress }, 'raft-kv member started');
    return server;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.clientServer.close();
    this.forwarder.close();
    await this.node.shutdown();
    await this.transport.close();
    this.logStore.close();
    this.stableStore.close();
    await new Promise((resolve) => (this.metricsServer ? this.metricsServer.close(resolve) : resolve(undefined)));
  }

  /** Replicates this leader's client address; retried while it stays leader, since followers depend on it. */
  private async announce(): Promise<void> {
    const command = encodeCommand({ kind: 'announce', announcement: { id: this.opts.id, clientAddress: this.opts.clientAddress } });
    while (!this.closed && this.node.state() === 'leader') {
      try {
        await this.node.apply(command, this.opts.requestTimeoutMs ?? 5000);
        return;
      } catch (err) {
        this.opts.logger.warn({ err }, 'raft-kv: could not announce the client address; retrying');
        await new Promise((resolve) => setTimeout(resolve, ANNOUNCE_RETRY_MS));
      }
    }
  }
}

/** The metrics page: counters in Prometheus text format, what the benchmark reads fsyncs from. */
function metrics(node: RaftNode, logStore: WalLogStore): string {
  const s = node.stats();
  return [
    `raft_kv_fsyncs_total ${logStore.syncCount}`,
    `raft_kv_entries_persisted_total ${s.entriesPersisted}`,
    `raft_kv_commit_index ${s.commitIndex}`,
    `raft_kv_applied_index ${s.appliedIndex}`,
    `raft_kv_term ${s.term}`,
    `raft_kv_snapshots_taken_total ${s.snapshotsTaken}`,
    '',
  ].join('\n');
}

function serveMetrics(address: string, render: () => string): Promise<HttpServer> {
  const { host, port } = splitHostPort(address);
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(render());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port)) throw new Error(`not a host:port address: ${address}`);
  return { host: address.slice(0, at), port };
}
