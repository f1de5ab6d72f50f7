/**
 * For the agent's and the node simulator's tests: a FAKE manager on loopback. Its TLS port serves
 * the real NodeCA (join and renewal, over a CA held in memory) and a fake Dispatcher that a test
 * drives: it keeps each node's assignments, streams them as the real one does (a full set first,
 * then changes), records heartbeats and status reports, and refuses, ends or removes nodes on
 * command. Callers are identified by their client certificate only, as the real dispatcher does.
 */
import * as grpc from '@grpc/grpc-js';
import { NodeCAService, type CaState, type NodeCAServer } from '../../../proto/gen/ca.js';
import {
  DispatcherService,
  type DispatcherServer,
  type LogSubscription,
  type PublishLogsRequest,
  type SessionMessage,
  type SessionRequest,
  type TaskStatusUpdate,
} from '../../../proto/gen/dispatcher.js';
import { Task, TaskState, type NodeDescription } from '../../../proto/gen/objects.js';
import { newId } from '../../common/ids.js';
import { requireNode } from '../../manager/ca/authorize.js';
import { createNodeCAService } from '../../manager/ca/ca-service.js';
import { createCaState, joinTokenOf } from '../../manager/ca/ca-state.js';
import { NodeServerCredentials } from '../../manager/ca/grpc-credentials.js';
import type { NodeIdentity } from '../../manager/ca/issuer.js';
import { issueLocalNodeCredentials } from '../../manager/ca/node-credentials.js';
import { notLeaderStatus } from '../../manager/dispatcher/leader-hint.js';

type SessionCall = grpc.ServerWritableStream<SessionRequest, SessionMessage>;

export interface FakeSession {
  nodeId: string;
  sessionId: string;
  description: NodeDescription | undefined;
  /** SHA-256 fingerprint of the client certificate the session was opened with. */
  certificateFingerprint: string;
  call: SessionCall;
  open: boolean;
}

export interface FakeManagerOptions {
  /** Share one with other fake managers to make them one cluster. Default: a new CA. */
  state?: CaState;
  heartbeatPeriodMs?: number;
  /** Node certificate lifetime. Default: the CA's (90 days). */
  certificateLifetimeMs?: number;
  /** Sent to nodes in every session message. */
  managerAddresses?: () => string[];
  /** false: a follower, refusing sessions with `leaderAddress` as the hint. Default true. */
  active?: boolean;
  leaderAddress?: () => string | undefined;
}

export class FakeManager {
  address = '';
  state: CaState;
  /** Nodes the CA admitted, in order. */
  readonly joined: NodeIdentity[] = [];
  readonly sessions: FakeSession[] = [];
  readonly statusReports: { nodeId: string; updates: TaskStatusUpdate[] }[] = [];
  heartbeats = 0;
  /** Every PublishLogs request nodes sent, in order (with the node that sent it). */
  readonly published: (PublishLogsRequest & { nodeId: string })[] = [];
  /** PublishLogs calls that ended, by subscription id: the node ended them (true) or cancelled them (false). */
  readonly publicationsEnded = new Map<string, boolean>();
  /** Renewals the CA answered. */
  renewals = 0;
  private active: boolean;
  private readonly removed = new Set<string>();
  /** Each node's assignments, by task id. */
  private readonly assignments = new Map<string, Map<string, Task>>();
  private readonly server = new grpc.Server();

  private constructor(private readonly opts: FakeManagerOptions) {
    this.state = opts.state ?? createCaState('cluster-fake');
    this.active = opts.active ?? true;
  }

  static async start(opts: FakeManagerOptions = {}): Promise<FakeManager> {
    const m = new FakeManager(opts);
    const creds = issueLocalNodeCredentials(m.state, { nodeId: `manager-${newId()}`, role: 'manager' }, { addresses: ['127.0.0.1'] });
    const ca = createNodeCAService({
      caState: () => m.state,
      isNodeActive: (id) => !m.removed.has(id),
      onNodeJoining: (node) => void m.joined.push(node),
      certificateLifetimeMs: () => opts.certificateLifetimeMs,
    });
    const service: NodeCAServer = {
      ...ca,
      renewNodeCertificate: (call, callback) => {
        m.renewals++;
        ca.renewNodeCertificate(call, callback);
      },
    };
    m.server.addService(NodeCAService, service);
    m.server.addService(DispatcherService, m.dispatcher);
    const port = await new Promise<number>((resolve, reject) =>
      m.server.bindAsync('127.0.0.1:0', new NodeServerCredentials(creds, { requireClientCert: false }), (err, p) => (err ? reject(err) : resolve(p))),
    );
    m.address = `127.0.0.1:${port}`;
    return m;
  }

  joinToken(role: 'worker' | 'manager' = 'worker'): string {
    return joinTokenOf(this.state, role);
  }

  /** The node's open session, if any. */
  liveSession(nodeId: string): FakeSession | undefined {
    return this.sessions.findLast((s) => s.nodeId === nodeId && s.open);
  }

  /** Puts a task on the node (ASSIGNED, desired RUNNING unless said otherwise) and sends the change. */
  assign(nodeId: string, id: string, extra: Partial<Task> = {}): void {
    const task = Task.fromPartial({
      meta: { id },
      serviceId: 's',
      slot: 1,
      nodeId,
      desiredState: TaskState.TASK_STATE_RUNNING,
      status: { state: TaskState.TASK_STATE_ASSIGNED },
      spec: { container: { image: 'app:1' } },
      ...extra,
    });
    this.tasksOf(nodeId).set(id, task);
    this.send(nodeId, { full: false, updated: [task], removed: [] });
  }

  setDesiredState(nodeId: string, id: string, desiredState: TaskState): void {
    const task = this.tasksOf(nodeId).get(id);
    if (!task) throw new Error(`no task ${id} on ${nodeId}`);
    const updated = { ...task, desiredState };
    this.tasksOf(nodeId).set(id, updated);
    this.send(nodeId, { full: false, updated: [updated], removed: [] });
  }

  /** Takes a task off the node and sends the change. */
  unassign(nodeId: string, id: string): void {
    this.tasksOf(nodeId).delete(id);
    this.send(nodeId, { full: false, updated: [], removed: [id] });
  }

  /** The node's task as this fake holds it, with the newest status the node reported. */
  task(nodeId: string, id: string): Task | undefined {
    return this.assignments.get(nodeId)?.get(id);
  }

  /** Changes the node's assignments without telling it (as if a message were lost), for a later full set. */
  setQuietly(nodeId: string, tasks: Task[]): void {
    this.assignments.set(nodeId, new Map(tasks.map((t) => [t.meta?.id ?? '', t])));
  }

  /** Sends the node's whole set. */
  sendFull(nodeId: string): void {
    this.send(nodeId, { full: true, updated: [...this.tasksOf(nodeId).values()], removed: [] });
  }

  /** Stops serving sessions (as a manager losing leadership with no leader known): live ones end UNAVAILABLE. */
  deactivate(): void {
    this.active = false;
    for (const s of this.sessions) if (s.open) this.end(s, notLeaderStatus(undefined));
  }

  activate(): void {
    this.active = true;
  }

  /** The cluster drops the node: its session ends NOT_FOUND and the CA will not renew it. */
  removeNode(nodeId: string): void {
    this.removed.add(nodeId);
    const live = this.liveSession(nodeId);
    if (live) this.end(live, { code: grpc.status.NOT_FOUND, details: `node ${nodeId} was removed from the cluster` });
  }

  async close(): Promise<void> {
    for (const s of this.sessions) if (s.open) this.end(s, { code: grpc.status.UNAVAILABLE, details: 'manager shutting down' });
    this.server.forceShutdown();
  }

  private readonly dispatcher: DispatcherServer = {
    session: (call) => {
      const identity = this.identify(call);
      if (!identity) return;
      if (!this.active) {
        call.emit('error', notLeaderStatus(this.opts.leaderAddress?.()));
        return;
      }
      if (this.removed.has(identity.nodeId)) {
        call.emit('error', { code: grpc.status.NOT_FOUND, details: `node ${identity.nodeId} was removed from the cluster` });
        return;
      }
      const previous = this.liveSession(identity.nodeId);
      if (previous) this.end(previous, { code: grpc.status.ABORTED, details: 'replaced by a newer session' });
      const session: FakeSession = {
        nodeId: identity.nodeId,
        sessionId: newId(),
        description: call.request.description,
        certificateFingerprint: call.getAuthContext().sslPeerCertificate?.fingerprint256 ?? '',
        call,
        open: true,
      };
      this.sessions.push(session);
      call.on('cancelled', () => (session.open = false));
      this.sendFull(identity.nodeId);
    },
    heartbeat: (call, callback) => {
      const session = this.sessionFor(call, call.request.sessionId);
      if (session instanceof Error) return callback(session);
      this.heartbeats++;
      callback(null, { periodMs: this.opts.heartbeatPeriodMs ?? 200 });
    },
    updateTaskStatus: (call, callback) => {
      const session = this.sessionFor(call, call.request.sessionId);
      if (session instanceof Error) return callback(session);
      this.statusReports.push({ nodeId: session.nodeId, updates: call.request.updates });
      const tasks = this.tasksOf(session.nodeId);
      for (const { taskId, status } of call.request.updates) {
        const task = tasks.get(taskId);
        if (task && status) tasks.set(taskId, { ...task, status });
      }
      callback(null, {});
    },
    publishLogs: (call, callback) => {
      let subscriptionId = '';
      call.on('data', (request: PublishLogsRequest) => {
        const session = this.sessionFor(call, request.sessionId);
        if (session instanceof Error) return;
        subscriptionId = request.subscriptionId;
        this.published.push({ ...request, nodeId: session.nodeId });
      });
      call.on('end', () => {
        this.publicationsEnded.set(subscriptionId, true);
        callback(null, {});
      });
      call.on('cancelled', () => {
        if (!this.publicationsEnded.has(subscriptionId)) this.publicationsEnded.set(subscriptionId, false);
      });
    },
  };

  private identify(call: SessionCall): NodeIdentity | undefined {
    try {
      return requireNode(call);
    } catch (err) {
      call.emit('error', err as grpc.ServiceError);
      return undefined;
    }
  }

  private sessionFor(call: Parameters<typeof requireNode>[0], sessionId: string): FakeSession | (grpc.ServiceError & Error) {
    let identity: NodeIdentity;
    try {
      identity = requireNode(call);
    } catch (err) {
      return err as grpc.ServiceError;
    }
    const live = this.active ? this.liveSession(identity.nodeId) : undefined;
    if (!live || live.sessionId !== sessionId) {
      return Object.assign(new Error('no such session'), { code: grpc.status.NOT_FOUND, details: 'no such session', metadata: new grpc.Metadata() });
    }
    return live;
  }

  /** Sends the node a log subscription (or its cancellation) on its live session. */
  subscribeLogs(nodeId: string, subscription: LogSubscription): void {
    this.send(nodeId, { full: false, updated: [], removed: [], logSubscriptions: [subscription] });
  }

  private send(nodeId: string, change: Pick<SessionMessage, 'full' | 'updated' | 'removed'> & Partial<SessionMessage>): void {
    const live = this.liveSession(nodeId);
    if (!live) return;
    live.call.write({
      nodeId,
      sessionId: live.sessionId,
      heartbeatPeriodMs: this.opts.heartbeatPeriodMs ?? 200,
      managers: this.opts.managerAddresses?.() ?? [],
      logSubscriptions: [],
      ...change,
    });
  }

  private end(session: FakeSession, status: Partial<grpc.StatusObject>): void {
    session.open = false;
    session.call.emit('error', status);
  }

  private tasksOf(nodeId: string): Map<string, Task> {
    let tasks = this.assignments.get(nodeId);
    if (!tasks) {
      tasks = new Map();
      this.assignments.set(nodeId, tasks);
    }
    return tasks;
  }
}
