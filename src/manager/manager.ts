/**
 * A shoal manager: one Raft member (src/raft) whose state machine is the object store (src/store).
 * One port, over mutual TLS (manager-tls.ts), carries Raft, the Control service (for other
 * managers' forwarded calls), the Dispatcher (nodes' sessions) and NodeCA (joins and renewals);
 * people reach Control on the root-only unix socket. While it leads, LeaderDuties runs the
 * leader-only loops (scheduler, orchestrators, reaper, role manager, the dispatcher's sessions).
 *
 * Its identity (manager-identity.ts) comes from --init (it creates the cluster and its CA) or
 * --join (it joins with a manager token and enters Raft as a non-voter) and is kept in the state
 * directory with the Raft state (state-dir.ts). `shoal manager` (cmd/manager) parses flags into
 * ManagerOptions and calls Manager.start.
 */
import { mkdirSync } from 'node:fs';
import { NodeCAService } from '../../proto/gen/ca.js';
import { ControlService } from '../../proto/gen/control.js';
import { DispatcherService } from '../../proto/gen/dispatcher.js';
import { hostOf } from '../common/host-port.js';
import type { Logger } from '../common/logger.js';
import { forceNewCluster, type ForceNewClusterOptions } from '../raft/index.js';
import { RaftNode } from '../raft/node.js';
import { FileSnapshotStore, FileStableStore, WalLogStore } from '../raft/storage/index.js';
import { GrpcTransport } from '../raft/transport/grpc.js';
import { RaftProposer } from '../store/raft-proposer.js';
import { ReplicatedStore } from '../store/replicated-store.js';
import { StoreFsm } from '../store/fsm.js';
import { MANAGER_CHANNEL_OPTIONS } from './ca/index.js';
import { createClusterCAService } from './cluster-ca.js';
import { AllocatorAccess } from './allocator/allocator-access.js';
import { ensureCluster, recordRemovals, type ClusterSeed } from './cluster-object.js';
import { createControlService } from './controlapi/index.js';
import { ControlSocket } from './control-socket.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import { LeaderDuties } from './leader-duties.js';
import { LeaderForwarder } from './leader-forwarder.js';
import { createLeaderLoops } from './leader-loops.js';
import { forgetInitCa, loadOrCreateManagerIdentity } from './manager-identity.js';
import { managerOnlyRefusal, managersOnly, ManagerTls } from './manager-tls.js';
import { founderNode } from './node-admission.js';
import { OwnCertificate } from './own-certificate.js';
import { raftMembership } from './raft-membership.js';
import { stateDirLayout } from './state-dir.js';

export interface ManagerOptions {
  stateDir: string;
  /** host:port of the Raft port, where Control, Dispatcher and NodeCA are served too (mutual TLS). */
  listenAddr: string;
  /** The address other managers and nodes reach this one at; default the listen address. */
  advertiseAddr?: string;
  socketPath: string;
  /** Create a new cluster (its CA included) if the state directory is empty. */
  init: boolean;
  /** Join the cluster of the manager at `address` with a manager join token, if the state directory is empty. */
  join?: { address: string; token: string };
  /** This manager's id when it creates the cluster; default a new random id. */
  nodeId?: string;
  /** Restart as the only voter of a new configuration, keeping the state (quorum-loss recovery). */
  forceNewCluster?: boolean;
  /** The heartbeat period written into the Cluster object when this manager creates it. */
  heartbeatPeriodMs?: number;
  /** The node certificate lifetime written into the Cluster object when this manager creates it. */
  certExpiryMs?: number;
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
  dispatcher: Dispatcher;
  duties: LeaderDuties;
  certificate: OwnCertificate;
}

/** How long a store write may wait for Raft before it fails. */
const PROPOSAL_TIMEOUT_MS = 30_000;
/** How long a stopping leader tries to hand leadership over, so the others need not wait for a timeout. */
const SHUTDOWN_TRANSFER_MS = 2_000;
/** How long adding a joining manager to Raft may take. */
const ADD_MANAGER_TIMEOUT_MS = 10_000;

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
    const raftAddress = opts.advertiseAddr ?? opts.listenAddr;
    mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    const identity = await loadOrCreateManagerIdentity({
      stateDir: opts.stateDir,
      init: opts.init,
      join: opts.join,
      nodeId: opts.nodeId,
      raftAddress,
      certLifetimeMs: opts.certExpiryMs,
    });
    const id = identity.credentials.nodeId;
    const layout = stateDirLayout(opts.stateDir);

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
    const tls = new ManagerTls(identity.credentials);
    const proposer = new RaftProposer({ apply: (data, ms) => raft().apply(data, ms), readIndex: (ms) => raft().readIndex(ms) }, PROPOSAL_TIMEOUT_MS);
    const store = new ReplicatedStore({ fsm, proposer });
    const forwarder = new LeaderForwarder({ raft: raftInfo, channel: () => tls.channel() });
    const dispatcher = new Dispatcher({
      store,
      leaderAddress: () => raftInfo.leader()?.address,
      managerAddresses: () => raftInfo.getConfiguration().configuration.servers.map((s) => s.address),
      managerChannel: () => tls.channel(),
      isLeader: () => raftInfo.state() === 'leader',
      logger: logger.child({ component: 'dispatcher' }),
    });
    const allocator = new AllocatorAccess();
    const control = createControlService({
      store,
      allocator,
      raft: raftInfo,
      raftId: id,
      raftPeerStatus: () => late.transport?.peerStatus() ?? [],
      forwarder,
      confirmRead: () => proposer.confirmRead(),
      logs: dispatcher.logs,
      logger,
    });
    const ca = createClusterCAService({
      store,
      isLeader: () => raftInfo.state() === 'leader',
      forwarder,
      addNonvoter: (nodeId, address) => raft().addNonvoter(nodeId, address, 0, ADD_MANAGER_TIMEOUT_MS),
      logger,
    });
    // Whatever opened so far is closed again if a later step fails (a port in use, a bad flag).
    const opened: (() => void | Promise<void>)[] = [() => logStore.close(), () => stableStore.close()];
    try {
      // Managers a forced new cluster left behind are recorded as removed by its first leader, so
      // their certificates stop working and, should one come back on its old state, it stops.
      const forcedOut = opts.forceNewCluster ? recoverAlone(id, raftAddress, { logStore, stableStore, snapshotStore, logger }) : [];
      const transport = await GrpcTransport.listen({
        address: opts.listenAddr,
        advertiseAddress: opts.advertiseAddr,
        serverCredentials: tls.server,
        channelCredentials: tls.channel().credentials,
        channelOptions: MANAGER_CHANNEL_OPTIONS,
        authorize: (call) => managerOnlyRefusal(call),
        logger,
        services: [
          // On this port Control is for other managers (forwarded calls); people use the socket.
          { definition: ControlService, implementation: managersOnly(control) },
          { definition: DispatcherService, implementation: dispatcher.implementation },
          { definition: NodeCAService, implementation: ca },
        ],
      });
      opened.push(() => transport.close());
      const node = new RaftNode({ id, fsm, logStore, stableStore, snapshotStore, transport, logger });
      late.node = node;
      late.transport = transport;
      bootstrapIfNew(node, id, transport.localAddress, opts);
      const socket = await ControlSocket.listen(opts.socketPath, control);
      opened.push(() => socket.close());
      const certificate = new OwnCertificate(identity.credentials, {
        stateDir: opts.stateDir,
        store,
        addresses: [hostOf(raftAddress)],
        onRenewed: (credentials) => {
          tls.update(credentials);
          transport.setChannelCredentials(tls.channel().credentials);
        },
        logger,
      });
      const seed: ClusterSeed | undefined = identity.initCa && { ca: identity.initCa, founder: founderNode(id) };
      const duties = new LeaderDuties({
        store,
        barrier: () => node.barrier(PROPOSAL_TIMEOUT_MS),
        prepare: async () => {
          const ready = await ensureCluster(store, { heartbeatPeriodMs: opts.heartbeatPeriodMs, nodeCertLifetimeMs: opts.certExpiryMs }, seed);
          if (ready && seed) forgetInitCa(opts.stateDir);
          if (forcedOut.length > 0) await recordRemovals(store, forcedOut, Date.now());
        },
        createLoops: () => [
          dispatcher,
          ...createLeaderLoops({ store, logger, allocator, membership: raftMembership(id, node, () => transport.peerStatus()) }),
        ],
        logger,
      });
      const parts = { store, node, transport, logStore, stableStore, socket, forwarder, dispatcher, duties, certificate };
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
    parts.certificate.start();
    parts.store.watch((events) => {
      if (manager.closing === undefined && events.some((e) => e.kind === 'cluster' && id in (e.object.removedNodes?.removedAt ?? {}))) {
        manager.failed(new Error(`this manager (${id}) was removed from the cluster; to rejoin, start it on an empty state directory with --join`));
      }
    });
    opts.logger.info({ id, address: manager.address, socket: opts.socketPath, stateDir: opts.stateDir }, 'manager started');
    return manager;
  }

  /** Whether this manager leads and its loops run. */
  isLeaderActive(): boolean {
    return this.parts.node.state() === 'leader' && this.parts.duties.active;
  }

  /** Calls `listener` if the manager cannot go on: Raft stopped on its own (a storage failure), or this manager was removed. */
  onFatal(listener: (err: Error) => void): void {
    this.fatalListeners.push(listener);
  }

  private failed(err: Error): void {
    this.logger.fatal({ err }, 'manager cannot go on');
    for (const listener of this.fatalListeners) listener(err);
  }

  /** Stops everything in order: the socket, leadership, the loops, Raft, storage. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const { duties, socket, forwarder, dispatcher, node, transport, logStore, stableStore, certificate } = this.parts;
    this.logger.info('manager stopping');
    certificate.stop();
    socket.close();
    // Hand over first, so the loops stop as on any loss of leadership and the dispatcher sends its
    // nodes to the new leader rather than back here.
    await this.handOverLeadership();
    await duties.end();
    dispatcher.close();
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

/**
 * A fresh Raft state starts a single-manager cluster with --init; a manager that joined waits for
 * the leader, which added it to the configuration when its certificate was issued.
 */
function bootstrapIfNew(node: RaftNode, id: string, address: string, opts: ManagerOptions): void {
  const stats = node.stats();
  const fresh = stats.term === 0 && stats.lastLogIndex === 0 && stats.lastSnapshotIndex === 0;
  if (fresh && opts.init) node.bootstrapCluster({ servers: [{ id, address, suffrage: 'voter' }] });
}

/** --force-new-cluster: this manager becomes the only voter; resolves with the ids of the managers left out. */
function recoverAlone(id: string, address: string, stores: Omit<ForceNewClusterOptions, 'self'>): string[] {
  const { changed, previous } = forceNewCluster({ ...stores, self: { id, address } });
  const left = previous.servers.map((server) => server.id).filter((server) => server !== id);
  stores.logger?.warn({ changed, left }, 'forced a new cluster with this manager as its only member');
  return left;
}
