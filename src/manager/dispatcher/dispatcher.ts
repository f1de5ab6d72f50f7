/**
 * The dispatcher: the manager side of a node's session (proto/dispatcher.proto), served on every
 * manager's TLS port. Every call acts for the worker its certificate names (caller.ts): no
 * certificate is UNAUTHENTICATED, a manager's PERMISSION_DENIED, and a session for a node the store
 * does not hold NOT_FOUND ("was removed from the cluster" / "is not part of the cluster").
 *
 * On the leader, between start() and stop() (its leader duties), node-sessions.ts serves the calls:
 * registration, the full assignment set then changes to it (assignment-tracker.ts), the node's
 * network state whenever it changes (network-state.ts, network-states.ts), heartbeat deadlines,
 * status reports (task-status.ts), and the log broker (../logbroker) asks nodes for their logs
 * through those sessions and takes what they publish (log-publications.ts). On any other manager
 * leader-proxy.ts passes them on to the leader, acting for the node; a call that was already
 * forwarded once is refused UNAVAILABLE with the leader's address instead (leader-hint.ts), never
 * forwarded again.
 */
import * as grpc from '@grpc/grpc-js';
import type { DispatcherServer } from '../../../proto/gen/dispatcher.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import type { Store } from '../../store/types.js';
import { RpcError } from '../ca/rpc-error.js';
import { nodeCaller, type DispatcherCall, type NodeCaller } from './caller.js';
import { notLeaderStatus } from './leader-hint.js';
import type { ManagerChannel } from '../leader-forwarder.js';
import { LeaderProxy } from './leader-proxy.js';
import { NodeSessions } from './node-sessions.js';
import { LogBroker } from '../logbroker/log-broker.js';
import { servePublication } from './log-publications.js';

export { HEARTBEAT_FAILURE, MISSED_HEARTBEATS } from './node-sessions.js';

export interface DispatcherOptions {
  store: Store;
  /** The Raft leader's address as this manager knows it; the dispatcher is served there too. */
  leaderAddress: () => string | undefined;
  /** Whether this manager is the Raft leader: then it never forwards (to itself), even before start(). */
  isLeader: () => boolean;
  /** Every manager's address, sent to nodes so they can reconnect elsewhere. */
  managerAddresses: () => string[];
  /** How a follower dials the leader: this manager's own mutual-TLS credentials (a getter: they renew). */
  managerChannel: () => ManagerChannel;
  clock?: Clock;
  /** Wall clock for status timestamps. Default Date.now. */
  now?: () => number;
  logger?: Logger;
  /** Quiet time after a change before a node's assignments are sent. Default 50 ms. */
  assignmentDebounceMs?: number;
  /**
   * How often the leader compares the manager list with the one it sent nodes, and a follower
   * checks that the leader its proxied streams go to still leads. Default 1000 ms.
   */
  raftCheckMs?: number;
  /** Deadline of a forwarded heartbeat or status report whose node set none. Default 10 s. */
  forwardTimeoutMs?: number;
}

export class Dispatcher {
  readonly implementation: DispatcherServer = {
    session: (call) => {
      const caller = this.callerOf(call, (status) => call.emit('error', status));
      if (!caller) return;
      if (this.sessions.isActive) this.sessions.open(call, caller);
      else if (caller.forwarded) call.emit('error', this.notLeader());
      else this.proxy.session(call, caller);
    },
    heartbeat: (call, callback) => {
      const caller = this.callerOf(call, callback);
      if (!caller) return;
      if (this.sessions.isActive) this.sessions.heartbeat(caller, call.request, callback);
      else if (caller.forwarded) callback(this.notLeader());
      else this.proxy.unary(caller, call.getDeadline(), callback, (client, md, options, cb) => client.heartbeat(call.request, md, options, cb));
    },
    updateTaskStatus: (call, callback) => {
      const caller = this.callerOf(call, callback);
      if (!caller) return;
      if (this.sessions.isActive) void this.sessions.updateTaskStatus(caller, call.request, callback);
      else if (caller.forwarded) callback(this.notLeader());
      else this.proxy.unary(caller, call.getDeadline(), callback, (client, md, options, cb) => client.updateTaskStatus(call.request, md, options, cb));
    },
    publishLogs: (call, callback) => {
      const caller = this.callerOf(call, callback);
      if (!caller) return;
      if (this.sessions.isActive) servePublication(call, caller, callback, this.sessions, this.logs);
      else if (caller.forwarded) callback(this.notLeader());
      else this.proxy.clientStream(call, caller, callback);
    },
  };

  /** The leader's log broker (Control.SubscribeLogs subscribes there); active while the sessions are. */
  readonly logs: LogBroker;

  private readonly sessions: NodeSessions;
  private readonly proxy: LeaderProxy;

  constructor(private readonly opts: DispatcherOptions) {
    const clock = opts.clock ?? systemClock;
    const logger = opts.logger ?? silentLogger;
    const checkMs = opts.raftCheckMs ?? 1000;
    this.sessions = new NodeSessions({
      store: opts.store,
      clock,
      now: opts.now ?? Date.now,
      logger,
      debounceMs: opts.assignmentDebounceMs ?? 50,
      managersCheckMs: checkMs,
      managerAddresses: opts.managerAddresses,
      leaderAddress: opts.leaderAddress,
    });
    this.logs = new LogBroker({ store: opts.store, logger: logger.child({ component: 'logbroker' }) });
    this.logs.attach(this.sessions);
    this.proxy = new LeaderProxy({
      leaderAddress: opts.leaderAddress,
      isLeader: opts.isLeader,
      managerChannel: opts.managerChannel,
      clock,
      logger,
      leaderCheckMs: checkMs,
      callTimeoutMs: opts.forwardTimeoutMs ?? 10_000,
    });
  }

  /** Leader duties begin: nodes proxied to the old leader reconnect here; sessions are served. */
  start(): void {
    this.proxy.endAll(this.notLeader());
    this.sessions.start();
    this.logs.start();
  }

  /** Leader duties end: sessions close with the leader's address; calls are forwarded from now on. */
  stop(): void {
    this.logs.stop();
    this.sessions.stop();
  }

  /** The manager is shutting down: ends proxied streams and the channel to the leader. */
  close(): void {
    this.stop();
    this.proxy.close();
  }

  private notLeader(): Partial<grpc.StatusObject> {
    return notLeaderStatus(this.opts.leaderAddress());
  }

  /** The node the call acts for; otherwise refuses the call through `refuse` and returns undefined. */
  private callerOf(call: DispatcherCall, refuse: (status: Partial<grpc.StatusObject>) => void): NodeCaller | undefined {
    try {
      return nodeCaller(call);
    } catch (err) {
      refuse(err instanceof RpcError ? { code: err.code, details: err.details } : { code: grpc.status.UNAUTHENTICATED, details: String(err) });
      return undefined;
    }
  }
}
