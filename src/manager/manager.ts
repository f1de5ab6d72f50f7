/**
 * A shoal manager: one Raft member (src/raft) whose state machine is the object store (src/store),
 * serving the Control service on its unix socket and on its Raft port, and the Dispatcher on its
 * Raft port. While it leads, LeaderDuties runs the leader-only loops (scheduler, orchestrators,
 * reaper, the dispatcher's sessions).
 *
 * `shoal manager` (cmd/manager) parses flags into ManagerOptions and calls Manager.start.
 */
import type { Logger } from '../common/logger.js';
import { RaftNode } from '../raft/node.js';
import { FileSnapshotStore, FileStableStore, WalLogStore } from '../raft/storage/index.js';
import { GrpcTransport } from '../raft/transport/grpc.js';
import type { ServerAddress, ServerId } from '../raft/types.js';
import { RaftProposer } from '../store/raft-proposer.js';
import { ReplicatedStore } from '../store/replicated-store.js';
import { StoreFsm } from '../store/fsm.js';
import { DispatcherService } from '../../proto/gen/dispatcher.js';
import { ControlService } from '../../proto/gen/control.js';
import { createControlService, LeaderForwarder } from './controlapi/index.js';
import { ControlSocket } from './control-socket.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import { LeaderDuties } from './leader-duties.js';
import { createLeaderLoops } from './leader-loops.js';
import { loadNodeId, stateDirLayout } from './state-dir.js';

export interface ManagerOptions {
  stateDir: string;
  /** host:port of the Raft port, where Control and Dispatcher are served too. */
  listenAddr: string;
  /** The address other managers and nodes reach this one at; default the bound listen address. */
  advertiseAddr?: string;
  socketPath: string;
  /** Create a new cluster if the state directory is empty. */
  init: boolean;
  /** This manager's id on first start; default a new random id. */
  nodeId?: string;
  /** The founding members of a static cluster, this manager included (with --init). */
  bootstrap?: { id: ServerId; address: ServerAddress }[];
  /** The heartbeat period written into the Cluster object when this manager creates it. */
  heartbeatPeriodMs?: number;
  logger: Logger;
}

/** What a running manager is made of. */
interface ManagerParts {
  store: ReplicatedStore;
  node: RaftNode;
  transport: GrpcTransport;
  logStore: WalLogStore;
  stableStore: FileStableStore;
  socket: ControlSocket;
  forwarder: LeaderForwarder;
  duties: LeaderDuties;
}

/** How long a store write may wait for Raft before it fails. */
const PROPOSAL_TIMEOUT_MS = 30_000;
/** How long a stopping leader tries to hand leadership over, so the others need not wait for a timeout. */
const SHUTDOWN_TRANSFER_MS = 2_000;

export class Manager {
  private closing: Promise<void> | undefined;
  private readonly fatalListeners: ((err: Error) => void)[] = [];

  private constructor(
    readonly id: string,
    readonly address: string,
    readonly socketPath: string,
    private readonly parts: ManagerParts,
    private readonly logger: Logger,
  ) {}

  get store(): ReplicatedStore {
    return this.parts.store;
  }

  static async start(opts: ManagerOptions): Promise<Manager> {
    const { logger } = opts;
    const id = loadNodeId(opts.stateDir, opts.nodeId);
    const layout = stateDirLayout(opts.stateDir);
    checkBootstrapList(id, opts);

    const logStore = new WalLogStore({ dir: layout.wal, logger });
    const stableStore = new FileStableStore({ dir: layout.stable });
    const snapshotStore = new FileSnapshotStore({ dir: layout.snapshots });
    const fsm = new StoreFsm({ logger });

    // The services must be on the transport before it binds, and they need the Raft node, which
    // needs the transport: they reach the node through `raft()`, set before any call can arrive
    // (nothing awaits between the bind and the node's construction).
    const late: { node?: RaftNode; transport?: GrpcTransport } = {};
    const raft = (): RaftNode => {
      if (!late.node) throw new Error('raft node not constructed yet');
      return late.node;
    };
    const raftInfo = {
      state: () => raft().state(),
      leader: () => raft().leader(),
      stats: () => raft().stats(),
      getConfiguration: () => raft().getConfiguration(),
    };
    const store = new ReplicatedStore({ fsm, proposer: new RaftProposer({ apply: (data, ms) => raft().apply(data, ms) }, PROPOSAL_TIMEOUT_MS) });
    const forwarder = new LeaderForwarder({ raft: raftInfo });
    const dispatcher = new Dispatcher({
      store,
      leaderAddress: () => raftInfo.leader()?.address,
      managerAddresses: () => raftInfo.getConfiguration().configuration.servers.map((s) => s.address),
      logger: logger.child({ component: 'dispatcher' }),
    });
    const control = createControlService({
      store,
      raft: raftInfo,
      raftId: id,
      raftPeerStatus: () => late.transport?.peerStatus() ?? [],
      forwarder,
      logger,
    });
    // Whatever opened so far is closed again if a later step fails (a port in use, a bad flag).
    const opened: (() => void | Promise<void>)[] = [() => logStore.close(), () => stableStore.close()];
    try {
      const transport = await GrpcTransport.listen({
        address: opts.listenAddr,
        advertiseAddress: opts.advertiseAddr,
        logger,
        services: [
          { definition: ControlService, implementation: control },
          { definition: DispatcherService, implementation: dispatcher.implementation },
        ],
      });
      opened.push(() => transport.close());
      const node = new RaftNode({ id, fsm, logStore, stableStore, snapshotStore, transport, logger });
      late.node = node;
      late.transport = transport;
      bootstrapIfNew(node, id, transport.localAddress, opts);
      const socket = await ControlSocket.listen(opts.socketPath, control);
      const duties = new LeaderDuties({
        store,
        barrier: () => node.barrier(PROPOSAL_TIMEOUT_MS),
        createLoops: () => [dispatcher, ...createLeaderLoops({ store, logger })],
        clusterDefaults: { heartbeatPeriodMs: opts.heartbeatPeriodMs },
        logger,
      });
      const parts = { store, node, transport, logStore, stableStore, socket, forwarder, duties };
      return Manager.run(id, opts, parts);
    } catch (err) {
      for (const close of opened.reverse()) await close();
      throw err;
    }
  }

  private static run(id: string, opts: ManagerOptions, parts: ManagerParts): Manager {
    const { node, duties } = parts;
    const manager = new Manager(id, parts.transport.localAddress, opts.socketPath, parts, opts.logger);
    node.observe((o) => {
      if (o.type !== 'role') return;
      if (o.role === 'leader') void duties.begin();
      else void duties.end();
      if (o.role === 'shutdown' && manager.closing === undefined) manager.failed(node.fatalError() ?? new Error('raft stopped'));
    });
    node.start();
    opts.logger.info({ id, address: manager.address, socket: opts.socketPath, stateDir: opts.stateDir }, 'manager started');
    return manager;
  }

  /** Whether this manager leads and its loops run. */
  isLeaderActive(): boolean {
    return this.parts.node.state() === 'leader' && this.parts.duties.active;
  }

  /** Calls `listener` if Raft stops on its own (a storage failure): the manager cannot go on. */
  onFatal(listener: (err: Error) => void): void {
    this.fatalListeners.push(listener);
  }

  private failed(err: Error): void {
    this.logger.fatal({ err }, 'manager: raft stopped');
    for (const listener of this.fatalListeners) listener(err);
  }

  /** Stops everything in order: the socket, leadership, the loops, Raft, storage. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const { duties, socket, forwarder, node, transport, logStore, stableStore } = this.parts;
    this.logger.info('manager stopping');
    socket.close();
    // Hand over first, so the loops stop as on any loss of leadership and the dispatcher sends its
    // nodes to the new leader rather than back here.
    await this.handOverLeadership();
    await duties.end();
    forwarder.close();
    await node.shutdown();
    await transport.close();
    logStore.close();
    stableStore.close();
    this.logger.info('manager stopped');
  }

  private async handOverLeadership(): Promise<void> {
    const { node } = this.parts;
    if (node.state() !== 'leader') return;
    const voters = node.getConfiguration().configuration.servers.filter((s) => s.suffrage === 'voter');
    if (voters.length < 2) return;
    try {
      await node.leadershipTransfer(undefined, SHUTDOWN_TRANSFER_MS);
    } catch (err) {
      this.logger.warn({ err }, 'manager: leadership transfer before shutdown failed');
    }
  }
}

function checkBootstrapList(id: string, opts: ManagerOptions): void {
  if (!opts.bootstrap) return;
  const self = opts.bootstrap.find((m) => m.id === id);
  if (!self) throw new Error(`--bootstrap must list this manager (${id}); it lists ${opts.bootstrap.map((m) => m.id).join(', ')}`);
  const ids = new Set(opts.bootstrap.map((m) => m.id));
  if (ids.size !== opts.bootstrap.length) throw new Error('--bootstrap lists a manager id twice');
}

/**
 * A fresh state directory starts a cluster with --init, or waits to be brought in by the founders
 * of a static cluster (--bootstrap without --init); with neither there is nothing it could join.
 */
function bootstrapIfNew(node: RaftNode, id: string, address: string, opts: ManagerOptions): void {
  const stats = node.stats();
  const fresh = stats.term === 0 && stats.lastLogIndex === 0 && stats.lastSnapshotIndex === 0;
  if (!fresh) return;
  if (!opts.init) {
    if (opts.bootstrap) return;
    throw new Error(`${opts.stateDir} holds no cluster state: start with --init to create a new cluster`);
  }
  const members = opts.bootstrap ?? [{ id, address }];
  const self = members.find((m) => m.id === id);
  if (self && self.address !== address) {
    throw new Error(`--bootstrap gives this manager (${id}) the address ${self.address}, but it listens at ${address} (set --advertise-addr)`);
  }
  node.bootstrapCluster({ servers: members.map((m) => ({ ...m, suffrage: 'voter' as const })) });
}
