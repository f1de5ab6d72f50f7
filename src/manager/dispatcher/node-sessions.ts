/**
 * The leader's side of node sessions: registration, assignment messages, heartbeat deadlines and
 * status reports. Active between start() and stop() (leader duties); dispatcher.ts routes calls
 * here while it is, and to the leader (leader-proxy.ts) while it is not.
 *
 * A session's first message is the node's full assignment set; store events mark the tasks they
 * touch in each session's AssignmentTracker, and after a per-node debounce the next message carries
 * only what changed (a burst of scheduler writes becomes one message; status reports, which change
 * nothing the node acts on, none). A change of the manager list or the heartbeat period is sent to
 * every session as a message without task changes. A log subscription (the log broker's) goes out
 * at once, also as a message without task changes.
 *
 * Each session's first message also carries the node's whole network state (network-state.ts);
 * after that, store events mark what they touch (network-states.ts) and one debounced recompute per
 * batch sends a new state, again whole, to each node whose state differs from the one its session
 * was last sent. A node's pending assignment changes go in the same message, and a message with
 * assignment changes first brings the network states up to date, so a task never reaches its node
 * before the networks it needs.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  HeartbeatRequest,
  HeartbeatResponse,
  LogSubscription,
  NetworkState,
  SessionMessage,
  SessionRequest,
  UpdateTaskStatusRequest,
  UpdateTaskStatusResponse,
} from '../../../proto/gen/dispatcher.js';
import { NodeState } from '../../../proto/gen/objects.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { newId } from '../../common/ids.js';
import type { Logger } from '../../common/logger.js';
import { NotLeaderError, type Store, type StoreEvent } from '../../store/types.js';
import { DEFAULT_HEARTBEAT_PERIOD_MS } from '../cluster-object.js';
import { movesAssignments } from './assignments.js';
import { AssignmentTracker } from './assignment-tracker.js';
import type { NodeCaller } from './caller.js';
import { notLeaderStatus } from './leader-hint.js';
import { NetworkStates } from './network-states.js';
import { markNodeDown, registerNode, removedMessage, UnknownNodeError, unknownNode } from './node-records.js';
import { updateWithRetry } from './store-retry.js';
import { applyStatusReports } from './task-status.js';

/** Heartbeat periods a node may miss before it is marked down. */
export const MISSED_HEARTBEATS = 3;
export const HEARTBEAT_FAILURE = 'heartbeat failure';

export type SessionCall = grpc.ServerWritableStream<SessionRequest, SessionMessage>;

export interface NodeSessionsOptions {
  store: Store;
  clock: Clock;
  now: () => number;
  logger: Logger;
  debounceMs: number;
  /** How often the manager list is compared with the one last sent. */
  managersCheckMs: number;
  managerAddresses: () => string[];
  leaderAddress: () => string | undefined;
}

interface NodeSession {
  readonly nodeId: string;
  readonly sessionId: string;
  readonly call: SessionCall;
  readonly tracker: AssignmentTracker;
  /** False until the node's registration is committed; nothing is streamed before. */
  registered: boolean;
  /** Send the next message even without task changes: the managers or the heartbeat period changed. */
  announce: boolean;
  /** False until the first message (with the whole network state) is sent. */
  started: boolean;
  /** A new network state the next message carries. */
  networkState: NetworkState | undefined;
  flush: TimerHandle | undefined;
}

export class NodeSessions {
  private active = false;
  private stopWatching: (() => void)[] = [];
  /** The live session of each node, by node id. */
  private readonly sessions = new Map<string, NodeSession>();
  /** When each node counts as down unless it heartbeats (or opens a session) first. */
  private readonly deadlines = new Map<string, TimerHandle>();
  private managers: string[] = [];
  private managersCheck: TimerHandle | undefined;
  private networkStates = new NetworkStates();
  private networkFlush: TimerHandle | undefined;

  constructor(private readonly opts: NodeSessionsOptions) {}

  get isActive(): boolean {
    return this.active;
  }

  /** Leader duties begin: accept sessions, and give nodes that were READY a grace period to reconnect. */
  start(): void {
    if (this.active) return;
    this.active = true;
    const { store } = this.opts;
    this.networkStates = new NetworkStates();
    store.view((tx) => this.networkStates.reset(tx));
    this.stopWatching = [store.watch((events) => this.onStoreEvents(events)), store.onRestore(() => this.onRestore())];
    this.managers = this.opts.managerAddresses();
    this.scheduleManagersCheck();
    const ready = store.view((tx) =>
      tx.nodes
        .all()
        .filter((n) => n.status?.state === NodeState.NODE_STATE_READY)
        .map((n) => n.meta?.id ?? ''),
    );
    for (const nodeId of ready) if (!this.sessions.has(nodeId)) this.armDeadline(nodeId);
    this.opts.logger.info({ nodes: ready.length }, 'dispatcher: active');
  }

  /** Leader duties end: every session is closed with the leader's address, so nodes move there. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    for (const stop of this.stopWatching) stop();
    this.stopWatching = [];
    this.managersCheck?.cancel();
    this.managersCheck = undefined;
    this.networkFlush?.cancel();
    this.networkFlush = undefined;
    for (const deadline of this.deadlines.values()) deadline.cancel();
    this.deadlines.clear();
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const session of sessions) this.endCall(session, notLeaderStatus(this.opts.leaderAddress()));
    this.opts.logger.info({ sessions: sessions.length }, 'dispatcher: inactive');
  }

  open(call: SessionCall, caller: NodeCaller): void {
    const { nodeId } = caller.identity;
    const refusal = this.opts.store.view((tx) => unknownNode(tx, nodeId));
    if (refusal) {
      call.emit('error', { code: grpc.status.NOT_FOUND, details: refusal.message });
      return;
    }
    const session: NodeSession = {
      nodeId,
      sessionId: newId(),
      call,
      tracker: new AssignmentTracker(),
      registered: false,
      announce: false,
      started: false,
      networkState: undefined,
      flush: undefined,
    };
    // Replace any older session now, before the registration's await, so the old stream ending
    // meanwhile cannot mark the reconnecting node down.
    const previous = this.sessions.get(nodeId);
    if (previous) this.endCall(previous, { code: grpc.status.ABORTED, details: 'replaced by a newer session' });
    this.networkStates.forget(nodeId);
    this.sessions.set(nodeId, session);
    this.armDeadline(nodeId);
    call.on('cancelled', () => this.onSessionGone(session));

    const registration = { nodeId, description: call.request.description, addr: caller.addr };
    updateWithRetry(this.opts.store, (tx) => registerNode(tx, registration)).then(
      () => {
        if (!this.isCurrent(session)) {
          this.endCall(session, notLeaderStatus(this.opts.leaderAddress()));
          return;
        }
        session.registered = true;
        this.opts.logger.info({ nodeId, addr: caller.addr, forwarded: caller.forwarded }, 'dispatcher: node session opened');
        this.send(session);
      },
      (err: unknown) => {
        if (this.sessions.get(nodeId) === session) this.sessions.delete(nodeId);
        this.opts.logger.warn({ err, nodeId }, 'dispatcher: registration failed');
        this.endCall(session, this.errorStatus(err));
      },
    );
  }

  heartbeat(caller: NodeCaller, req: HeartbeatRequest, callback: grpc.sendUnaryData<HeartbeatResponse>): void {
    const { nodeId } = caller.identity;
    const refusal = this.checkSession(nodeId, req.sessionId);
    if (refusal) {
      callback(refusal);
      return;
    }
    this.armDeadline(nodeId);
    callback(null, { periodMs: this.heartbeatPeriodMs() });
  }

  async updateTaskStatus(caller: NodeCaller, req: UpdateTaskStatusRequest, callback: grpc.sendUnaryData<UpdateTaskStatusResponse>): Promise<void> {
    const { nodeId } = caller.identity;
    const refusal = this.checkSession(nodeId, req.sessionId);
    if (refusal) {
      callback(refusal);
      return;
    }
    try {
      await updateWithRetry(this.opts.store, (tx) => applyStatusReports(tx, nodeId, req.updates, this.opts.now()));
      callback(null, {});
    } catch (err) {
      this.opts.logger.warn({ err, nodeId }, 'dispatcher: status update failed');
      callback(this.errorStatus(err));
    }
  }

  /** Sends a log subscription (or its cancellation) on the node's live session; false if it has none. */
  pushLogSubscription(nodeId: string, subscription: LogSubscription): boolean {
    const session = this.sessions.get(nodeId);
    if (!this.active || !session?.registered || session.call.cancelled || session.call.writableEnded) return false;
    session.call.write({
      nodeId,
      sessionId: session.sessionId,
      heartbeatPeriodMs: this.heartbeatPeriodMs(),
      managers: this.managers,
      full: false,
      updated: [],
      removed: [],
      logSubscriptions: [subscription],
    });
    return true;
  }

  /** Why a call naming this session is refused, or undefined if the session is live. */
  checkSession(nodeId: string, sessionId: string): Partial<grpc.StatusObject> | undefined {
    if (!this.active) return notLeaderStatus(this.opts.leaderAddress());
    const session = this.sessions.get(nodeId);
    if (!session || session.sessionId !== sessionId || !session.registered) {
      return { code: grpc.status.NOT_FOUND, details: `no session ${sessionId} for node ${nodeId}; open a new session` };
    }
    return undefined;
  }

  private onStoreEvents(events: readonly StoreEvent[]): void {
    if (this.networkStates.observe(events)) this.scheduleNetworkFlush();
    for (const event of events) {
      if (event.kind === 'task') {
        if (event.action === 'update' && !movesAssignments(event.old, event.object)) continue;
        const taskId = event.object.meta?.id ?? '';
        this.taskChanged(event.object.nodeId, taskId);
        if (event.action === 'update' && event.old.nodeId !== event.object.nodeId) this.taskChanged(event.old.nodeId, taskId);
      } else if (event.kind === 'cluster' && event.action === 'update') {
        if (event.old.spec?.heartbeatPeriodMs !== event.object.spec?.heartbeatPeriodMs) this.announceToAll();
      } else if (event.kind === 'node' && event.action === 'delete') {
        const nodeId = event.object.meta?.id ?? '';
        const session = this.sessions.get(nodeId);
        this.forget(nodeId);
        if (session) this.endCall(session, { code: grpc.status.NOT_FOUND, details: removedMessage(nodeId) });
      }
    }
  }

  /** The store was replaced wholesale: no event says what changed, so every node gets its full set again. */
  private onRestore(): void {
    this.opts.store.view((tx) => this.networkStates.reset(tx));
    this.scheduleNetworkFlush();
    for (const session of this.sessions.values()) {
      session.tracker.startOver();
      this.scheduleFlush(session);
    }
  }

  private taskChanged(nodeId: string, taskId: string): void {
    const session = nodeId ? this.sessions.get(nodeId) : undefined;
    if (!session?.registered) return;
    session.tracker.touch(taskId);
    this.scheduleFlush(session);
  }

  private announceToAll(): void {
    for (const session of this.sessions.values()) {
      if (!session.registered) continue;
      session.announce = true;
      this.scheduleFlush(session);
    }
  }

  private scheduleFlush(session: NodeSession): void {
    if (session.flush) return;
    session.flush = this.opts.clock.setTimer(this.opts.debounceMs, () => {
      session.flush = undefined;
      if (this.isCurrent(session)) this.send(session);
    });
  }

  private scheduleNetworkFlush(): void {
    if (this.networkFlush) return;
    this.networkFlush = this.opts.clock.setTimer(this.opts.debounceMs, () => {
      this.networkFlush = undefined;
      if (this.active) this.flushNetworks();
    });
  }

  /** Recomputes the network states store events may have changed, and sends those that did change. */
  private flushNetworks(): void {
    this.networkFlush?.cancel();
    this.networkFlush = undefined;
    const changed = this.opts.store.view((tx) => this.networkStates.changes(tx));
    for (const [nodeId, state] of changed) {
      const session = this.sessions.get(nodeId);
      if (!session?.started) {
        this.networkStates.forget(nodeId);
        continue;
      }
      session.networkState = state;
      this.send(session);
    }
  }

  /**
   * Sends what changed for the node since its last message, if anything did (or an announcement is
   * due): its assignment changes and its new network state. The first message carries the whole
   * assignment set and network state.
   */
  private send(session: NodeSession): void {
    // Network states first, so that they travel with (or before) the assignments that need them.
    if (this.networkFlush) this.flushNetworks();
    const { changes, networkState } = this.opts.store.view((tx) => ({
      changes: session.tracker.next(tx, session.nodeId),
      networkState: session.started ? session.networkState : this.networkStates.first(tx, session.nodeId),
    }));
    session.started = true;
    session.networkState = undefined;
    if (!changes && !session.announce && !networkState) return;
    session.announce = false;
    // Built directly, not with fromPartial: that would deep-copy every task only to encode it.
    const message: SessionMessage = {
      nodeId: session.nodeId,
      sessionId: session.sessionId,
      heartbeatPeriodMs: this.heartbeatPeriodMs(),
      managers: this.managers,
      full: changes?.full ?? false,
      updated: changes?.updated ?? [],
      removed: changes?.removed ?? [],
      logSubscriptions: [],
      networkState,
    };
    session.call.write(message);
  }

  /** Compares the manager list now and then (Raft reports no event for it) and tells every node when it changed. */
  private scheduleManagersCheck(): void {
    this.managersCheck = this.opts.clock.setTimer(this.opts.managersCheckMs, () => {
      if (!this.active) return;
      const managers = this.opts.managerAddresses();
      if (managers.join(',') !== this.managers.join(',')) {
        this.managers = managers;
        this.announceToAll();
      }
      this.scheduleManagersCheck();
    });
  }

  private armDeadline(nodeId: string): void {
    this.deadlines.get(nodeId)?.cancel();
    const ms = MISSED_HEARTBEATS * this.heartbeatPeriodMs();
    const deadline = this.opts.clock.setTimer(ms, () =>
      // After a stall of this process, timers run before the I/O that queued up meanwhile: look
      // again once that I/O (perhaps this node's heartbeat) has been handled.
      setImmediate(() => {
        if (this.deadlines.get(nodeId) === deadline) this.expire(nodeId);
      }),
    );
    this.deadlines.set(nodeId, deadline);
  }

  private expire(nodeId: string): void {
    const session = this.sessions.get(nodeId);
    this.forget(nodeId);
    if (session) this.endCall(session, { code: grpc.status.UNAVAILABLE, details: HEARTBEAT_FAILURE });
    this.markDown(nodeId, HEARTBEAT_FAILURE);
  }

  /**
   * The node's stream ended from its side: it stopped, its connection broke, or its agent is
   * restarting. As in swarmkit the node is not marked down here: its heartbeat deadline decides,
   * so a worker that comes back within it keeps its tasks (they were never stopped).
   */
  private onSessionGone(session: NodeSession): void {
    if (!this.isCurrent(session)) return;
    session.flush?.cancel();
    this.sessions.delete(session.nodeId);
    this.networkStates.forget(session.nodeId);
    this.opts.logger.info({ nodeId: session.nodeId }, 'dispatcher: node session ended');
  }

  private markDown(nodeId: string, message: string): void {
    if (!this.active) return;
    this.opts.logger.warn({ nodeId, reason: message }, 'dispatcher: node down');
    updateWithRetry(this.opts.store, (tx) => {
      // A session opened since (the node came straight back) wins over the stale failure.
      if (!this.sessions.has(nodeId)) markNodeDown(tx, nodeId, message);
    }).catch((err: unknown) => this.opts.logger.warn({ err, nodeId }, 'dispatcher: could not mark node down'));
  }

  private forget(nodeId: string): void {
    const session = this.sessions.get(nodeId);
    session?.flush?.cancel();
    this.sessions.delete(nodeId);
    this.networkStates.forget(nodeId);
    this.deadlines.get(nodeId)?.cancel();
    this.deadlines.delete(nodeId);
  }

  private isCurrent(session: NodeSession): boolean {
    return this.active && this.sessions.get(session.nodeId) === session;
  }

  private endCall(session: NodeSession, status: Partial<grpc.StatusObject>): void {
    session.flush?.cancel();
    session.flush = undefined;
    if (session.call.cancelled || session.call.writableEnded) return;
    session.call.emit('error', status);
  }

  private heartbeatPeriodMs(): number {
    const period = this.opts.store.view((tx) => tx.clusters.all()[0]?.spec?.heartbeatPeriodMs);
    return period && period > 0 ? period : DEFAULT_HEARTBEAT_PERIOD_MS;
  }

  private errorStatus(err: unknown): Partial<grpc.StatusObject> {
    if (err instanceof NotLeaderError) return notLeaderStatus(err.leader?.address ?? this.opts.leaderAddress());
    if (err instanceof UnknownNodeError) return { code: grpc.status.NOT_FOUND, details: err.message };
    return { code: grpc.status.UNAVAILABLE, details: err instanceof Error ? err.message : String(err) };
  }
}
