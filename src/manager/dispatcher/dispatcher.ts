/**
 * The dispatcher: the manager side of a node's session (proto/dispatcher.proto). Served on every
 * manager, but only the leader's is active (between start() and stop()); the others turn nodes away
 * with the leader's address (leader-hint.ts).
 *
 * A session registers the node and streams its full assignment set (assignments.ts) whenever the
 * tasks it must act on change, debounced per node so a burst of scheduler writes becomes one
 * message. The node heartbeats; one silent for three periods, or whose session stream ends, is
 * marked DOWN. Status reports are checked (task-status.ts) and written in one transaction per
 * batch.
 */
import * as grpc from '@grpc/grpc-js';
import {
  type DispatcherServer,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type SessionMessage,
  type SessionRequest,
  type UpdateTaskStatusRequest,
  type UpdateTaskStatusResponse,
} from '../../../proto/gen/dispatcher.js';
import { NodeState, type Task } from '../../../proto/gen/objects.js';
import { systemClock, type Clock, type TimerHandle } from '../../common/clock.js';
import { newId } from '../../common/ids.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { NotLeaderError, type Store, type StoreEvent } from '../../store/types.js';
import { DEFAULT_HEARTBEAT_PERIOD_MS } from '../cluster-object.js';
import { assignmentKey, assignmentsOf, isAssigned } from './assignments.js';
import { notLeaderStatus } from './leader-hint.js';
import { markNodeDown, registerNode, UnknownNodeError } from './node-records.js';
import { updateWithRetry } from './store-retry.js';
import { applyStatusReports } from './task-status.js';

export interface DispatcherOptions {
  store: Store;
  /** The Raft leader's address (the dispatcher is served there too), if known. */
  leaderAddress: () => string | undefined;
  /** Every manager's address, sent to nodes so they can reconnect elsewhere. */
  managerAddresses: () => string[];
  clock?: Clock;
  /** Wall clock for status timestamps. Default Date.now. */
  now?: () => number;
  logger?: Logger;
  /** Quiet time after a change before a node's assignments are sent. Default 50 ms. */
  assignmentDebounceMs?: number;
}

/** Heartbeat periods a node may miss before it is marked down. */
export const MISSED_HEARTBEATS = 3;
export const HEARTBEAT_FAILURE = 'heartbeat failure';

type SessionCall = grpc.ServerWritableStream<SessionRequest, SessionMessage>;

interface NodeSession {
  readonly nodeId: string;
  readonly sessionId: string;
  readonly call: SessionCall;
  /** False until the node's registration is committed; nothing is streamed before. */
  registered: boolean;
  /** assignmentKey of the last set sent. */
  sentKey: string | undefined;
  flush: TimerHandle | undefined;
}

export class Dispatcher {
  readonly implementation: DispatcherServer = {
    session: (call) => this.openSession(call),
    heartbeat: (call, callback) => this.heartbeat(call.request, callback),
    updateTaskStatus: (call, callback) => void this.updateTaskStatus(call.request, callback),
  };

  private readonly store: Store;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private active = false;
  private stopWatching: (() => void) | undefined;
  /** The live session of each node, by node id. */
  private readonly sessions = new Map<string, NodeSession>();
  /** When each node counts as down unless it heartbeats (or opens a session) first. */
  private readonly deadlines = new Map<string, TimerHandle>();

  constructor(private readonly opts: DispatcherOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger ?? silentLogger;
    this.debounceMs = opts.assignmentDebounceMs ?? 50;
  }

  /** Leader duties begin: accept sessions, and give nodes that were READY a grace period to reconnect. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.stopWatching = this.store.watch((events) => this.onStoreEvents(events));
    const ready = this.store.view((tx) =>
      tx.nodes
        .all()
        .filter((n) => n.status?.state === NodeState.NODE_STATE_READY)
        .map((n) => n.meta?.id ?? ''),
    );
    for (const nodeId of ready) if (!this.sessions.has(nodeId)) this.armDeadline(nodeId);
    this.logger.info({ nodes: ready.length }, 'dispatcher: active');
  }

  /** Leader duties end: every session is closed with the leader's address, so nodes move there. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.stopWatching?.();
    this.stopWatching = undefined;
    for (const deadline of this.deadlines.values()) deadline.cancel();
    this.deadlines.clear();
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const session of sessions) this.endCall(session, notLeaderStatus(this.opts.leaderAddress()));
    this.logger.info({ sessions: sessions.length }, 'dispatcher: inactive');
  }

  private openSession(call: SessionCall): void {
    if (!this.active) {
      call.emit('error', notLeaderStatus(this.opts.leaderAddress()));
      return;
    }
    const requestedId = call.request.nodeId;
    const session: NodeSession = {
      nodeId: requestedId || newId(),
      sessionId: newId(),
      call,
      registered: false,
      sentKey: undefined,
      flush: undefined,
    };
    // Replace any older session now, before the registration's await, so the old stream ending
    // meanwhile cannot mark the reconnecting node down.
    const previous = this.sessions.get(session.nodeId);
    if (previous) this.endCall(previous, { code: grpc.status.ABORTED, details: 'replaced by a newer session' });
    this.sessions.set(session.nodeId, session);
    this.armDeadline(session.nodeId);
    call.on('cancelled', () => this.onSessionGone(session));

    const registration = {
      requestedId,
      newId: session.nodeId,
      description: call.request.description,
      addr: hostOf(call.getPeer()),
    };
    updateWithRetry(this.store, (tx) => registerNode(tx, registration)).then(
      () => {
        if (!this.isCurrent(session)) {
          this.endCall(session, notLeaderStatus(this.opts.leaderAddress()));
          return;
        }
        session.registered = true;
        this.logger.info({ nodeId: session.nodeId, addr: registration.addr }, 'dispatcher: node session opened');
        this.send(session);
      },
      (err: unknown) => {
        if (this.sessions.get(session.nodeId) === session) this.sessions.delete(session.nodeId);
        this.logger.warn({ err, nodeId: session.nodeId }, 'dispatcher: registration failed');
        this.endCall(session, this.errorStatus(err));
      },
    );
  }

  private heartbeat(req: HeartbeatRequest, callback: grpc.sendUnaryData<HeartbeatResponse>): void {
    const refusal = this.checkSession(req.nodeId, req.sessionId);
    if (refusal) {
      callback(refusal);
      return;
    }
    this.armDeadline(req.nodeId);
    callback(null, { periodMs: this.heartbeatPeriodMs() });
  }

  private async updateTaskStatus(
    req: UpdateTaskStatusRequest,
    callback: grpc.sendUnaryData<UpdateTaskStatusResponse>,
  ): Promise<void> {
    const refusal = this.checkSession(req.nodeId, req.sessionId);
    if (refusal) {
      callback(refusal);
      return;
    }
    try {
      await updateWithRetry(this.store, (tx) => applyStatusReports(tx, req.nodeId, req.updates, this.now()));
      callback(null, {});
    } catch (err) {
      this.logger.warn({ err, nodeId: req.nodeId }, 'dispatcher: status update failed');
      callback(this.errorStatus(err));
    }
  }

  /** Why a call naming this session is refused, or undefined if the session is live. */
  private checkSession(nodeId: string, sessionId: string): Partial<grpc.StatusObject> | undefined {
    if (!this.active) return notLeaderStatus(this.opts.leaderAddress());
    const session = this.sessions.get(nodeId);
    if (!session || session.sessionId !== sessionId || !session.registered) {
      return { code: grpc.status.NOT_FOUND, details: `no session ${sessionId} for node ${nodeId}; open a new session` };
    }
    return undefined;
  }

  private onStoreEvents(events: readonly StoreEvent[]): void {
    for (const event of events) {
      if (event.kind === 'task') {
        // Most task updates are the node's own status reports, which leave its assignment set as it was.
        if (event.action === 'update' && !movesAssignments(event.old, event.object)) continue;
        this.taskChanged(event.object.nodeId);
        if (event.action === 'update' && event.old.nodeId !== event.object.nodeId) this.taskChanged(event.old.nodeId);
      } else if (event.kind === 'node' && event.action === 'delete') {
        const nodeId = event.object.meta?.id ?? '';
        const session = this.sessions.get(nodeId);
        this.forget(nodeId);
        if (session) this.endCall(session, { code: grpc.status.NOT_FOUND, details: `node ${nodeId} was removed` });
      }
    }
  }

  private taskChanged(nodeId: string): void {
    const session = nodeId ? this.sessions.get(nodeId) : undefined;
    if (!session?.registered || session.flush) return;
    session.flush = this.clock.setTimer(this.debounceMs, () => {
      session.flush = undefined;
      if (this.isCurrent(session)) this.send(session);
    });
  }

  /** Sends the node's assignment set if it differs from the last one sent. */
  private send(session: NodeSession): void {
    const assignments = this.store.view((tx) => assignmentsOf(tx, session.nodeId));
    const key = assignmentKey(assignments);
    if (key === session.sentKey) return;
    session.sentKey = key;
    // Built directly, not with fromPartial: that would deep-copy every task only to encode it.
    const message: SessionMessage = {
      nodeId: session.nodeId,
      sessionId: session.sessionId,
      heartbeatPeriodMs: this.heartbeatPeriodMs(),
      managers: this.opts.managerAddresses(),
      assignments,
    };
    session.call.write(message);
  }

  private armDeadline(nodeId: string): void {
    this.deadlines.get(nodeId)?.cancel();
    const ms = MISSED_HEARTBEATS * this.heartbeatPeriodMs();
    const deadline = this.clock.setTimer(ms, () =>
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
    this.logger.info({ nodeId: session.nodeId }, 'dispatcher: node session ended');
  }

  private markDown(nodeId: string, message: string): void {
    if (!this.active) return;
    this.logger.warn({ nodeId, reason: message }, 'dispatcher: node down');
    updateWithRetry(this.store, (tx) => {
      // A session opened since (the node came straight back) wins over the stale failure.
      if (!this.sessions.has(nodeId)) markNodeDown(tx, nodeId, message);
    }).catch((err: unknown) => this.logger.warn({ err, nodeId }, 'dispatcher: could not mark node down'));
  }

  private forget(nodeId: string): void {
    const session = this.sessions.get(nodeId);
    session?.flush?.cancel();
    this.sessions.delete(nodeId);
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
    const period = this.store.view((tx) => tx.clusters.all()[0]?.spec?.heartbeatPeriodMs);
    return period && period > 0 ? period : DEFAULT_HEARTBEAT_PERIOD_MS;
  }

  private errorStatus(err: unknown): Partial<grpc.StatusObject> {
    if (err instanceof NotLeaderError) return notLeaderStatus(err.leader?.address ?? this.opts.leaderAddress());
    if (err instanceof UnknownNodeError) return { code: grpc.status.NOT_FOUND, details: err.message };
    return { code: grpc.status.UNAVAILABLE, details: err instanceof Error ? err.message : String(err) };
  }
}

/** Whether an update can change what assignmentKey says about the node's set (which tasks, at which desired state). */
function movesAssignments(before: Task, after: Task): boolean {
  return before.nodeId !== after.nodeId || before.desiredState !== after.desiredState || isAssigned(before) !== isAssigned(after);
}

/** "127.0.0.1:50312" → "127.0.0.1", "[::1]:50312" → "::1"; anything else unchanged. */
function hostOf(peer: string): string {
  const match = /^\[?([^\]]*?)\]?:\d+$/.exec(peer);
  return match ? match[1] : peer;
}
