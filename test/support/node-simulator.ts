/**
 * FakeNodeSimulator: a FAKE worker node for tests and benchmarks. It joins the cluster with a worker
 * join token (keeping its certificate in memory) and speaks the real Dispatcher protocol to real
 * managers over mutual TLS with that certificate (register, stream its assignments as a full set
 * then changes, heartbeat, batched status reports) but runs no containers: FakeTaskRunner walks each task through its states on a timer. Nor does it
 * wire networks: it keeps the last network state the managers sent, for tests to read. Tests command
 * failures (failTask, makeUnhealthy, failNewTasks) and node loss (stop, kill).
 *
 * On any session failure it reconnects, to the leader a refusing follower named if there is one,
 * otherwise to the next manager it knows (its configured list plus the managers the last session
 * message listed). Many simulators can share one process: each is a few timers, one stream, and
 * its own TLS connection (its own certificate).
 */
import { Metadata, status as grpcStatus, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  DispatcherClient,
  type NetworkState,
  type SessionMessage,
  type TaskStatusUpdate,
} from '../../proto/gen/dispatcher.js';
import type { Platform, Resources, TaskState } from '../../proto/gen/objects.js';
import { grpcChannelCredentials, MANAGER_CHANNEL_OPTIONS } from '../../src/manager/ca/grpc-credentials.js';
import { joinCluster, type NodeCredentials } from '../../src/manager/ca/node-credentials.js';
import { MISSED_HEARTBEATS } from '../../src/manager/dispatcher/dispatcher.js';
import { leaderAddressFrom } from '../../src/manager/dispatcher/leader-hint.js';
import { FakeTaskRunner, type TaskPredicate } from './fake-task-runner.js';
import { StatusReporter } from './status-reporter.js';

export interface FakeNodeOptions {
  /** Manager addresses (host:port of their Raft/gRPC port) to try, in order. */
  managers: string[];
  /** The worker join token start() joins with (through the managers in turn), unless `credentials` are given. */
  joinToken?: string;
  /** Credentials from an earlier join (e.g. another simulator's `credentials`): start() does not join. */
  credentials?: NodeCredentials;
  hostname: string;
  /** Default 4 CPUs and 8 GiB. */
  resources?: Resources;
  labels?: Record<string, string>;
  /** Default linux/x86_64. */
  platform?: Platform;
  /** Time each task state step takes. Default 5 ms. */
  stepDelayMs?: number;
  /** How long status reports gather before they are sent. Default 10 ms. */
  statusBatchMs?: number;
  /** Pause before reconnecting after a session failure. Default 100 ms. */
  reconnectDelayMs?: number;
  /** False: assigned tasks are held at ASSIGNED, never run or reported. Default true. */
  runTasks?: boolean;
}

export type FakeNodeState = 'idle' | 'connecting' | 'connected' | 'stopped' | 'killed' | 'removed';

const GiB = 1024 ** 3;

export class FakeNodeSimulator {
  private creds: NodeCredentials | undefined;
  private sessionId = '';
  private state: FakeNodeState = 'idle';
  private readonly managers: string[];
  private managerIndex = 0;
  private hintedLeader: string | undefined;
  private connectedTo: string | undefined;
  private readonly clients = new Map<string, DispatcherClient>();
  private call: ClientReadableStream<SessionMessage> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatPeriodMs = 5000;
  private heartbeatsAnswered = 0;
  private sessionsOpened = 0;
  private assignmentMessages = 0;
  private lastNetworkState: NetworkState | undefined;
  private readonly runner: FakeTaskRunner;
  private readonly reporter: StatusReporter;
  private readonly registeredWaiters: (() => void)[] = [];

  constructor(private readonly opts: FakeNodeOptions) {
    if (opts.managers.length === 0) throw new Error('FakeNodeSimulator needs at least one manager address');
    if (!opts.joinToken && !opts.credentials) throw new Error('FakeNodeSimulator needs a joinToken (or credentials)');
    this.creds = opts.credentials;
    this.managers = [...opts.managers];
    this.reporter = new StatusReporter(opts.statusBatchMs ?? 10);
    this.runner = new FakeTaskRunner({
      stepDelayMs: opts.stepDelayMs ?? 5,
      run: opts.runTasks ?? true,
      report: (taskId, status) => this.reporter.report(taskId, status),
    });
  }

  /**
   * Joins the cluster (unless given credentials) and opens the first session; resolves once the
   * node is registered and has its first assignments. A refused join rejects.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`node ${this.opts.hostname} already started`);
    this.state = 'connecting';
    this.creds ??= await this.join();
    // Stopped while joining: nothing to open.
    if (this.state !== 'connecting') return;
    const registered = this.registered();
    this.connect();
    await registered;
  }

  private async join(): Promise<NodeCredentials> {
    let lastError: unknown;
    for (const address of this.managers) {
      try {
        return await joinCluster({ address, token: this.opts.joinToken!, requestedRole: 'worker' });
      } catch (err) {
        // Only an unreachable manager is worth passing over; a refusal is the cluster's answer.
        const code = (err as Partial<ServiceError>).code;
        if (code !== grpcStatus.UNAVAILABLE && code !== grpcStatus.DEADLINE_EXCEEDED) throw err;
        lastError = err;
      }
    }
    throw lastError;
  }

  /** Resolves when a session is next registered (at once if one is open). */
  registered(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve) => this.registeredWaiters.push(resolve));
  }

  /** The node id its certificate names; empty until start() has joined. */
  get id(): string {
    return this.creds?.nodeId ?? '';
  }

  /** The node's certificate, key and cluster root, once joined. */
  get credentials(): NodeCredentials | undefined {
    return this.creds;
  }

  get hostname(): string {
    return this.opts.hostname;
  }

  status(): {
    state: FakeNodeState;
    manager: string | undefined;
    sessionsOpened: number;
    assignmentMessages: number;
    heartbeatsAnswered: number;
    unreported: number;
  } {
    return {
      state: this.state,
      manager: this.connectedTo,
      sessionsOpened: this.sessionsOpened,
      assignmentMessages: this.assignmentMessages,
      heartbeatsAnswered: this.heartbeatsAnswered,
      unreported: this.reporter.backlog(),
    };
  }

  /** The last network state a session message carried (each session's first one carries it). */
  networkState(): NetworkState | undefined {
    return this.lastNetworkState;
  }

  /** The observed state of each task this node holds. */
  taskStates(): Map<string, TaskState> {
    return this.runner.states();
  }

  /** How many tasks this node holds (its assignment set, less the finished ones it dropped). */
  taskCount(): number {
    return this.runner.size();
  }

  failTask(taskId: string, how: { exitCode?: number; err?: string } = {}): void {
    this.runner.fail(taskId, how);
  }

  completeTask(taskId: string): void {
    this.runner.complete(taskId);
  }

  makeUnhealthy(taskId: string): void {
    this.runner.makeUnhealthy(taskId);
  }

  /** Every matching task that reaches RUNNING from now on fails `afterMs` later (e.g. image "bad:1"). */
  failNewTasks(predicate: TaskPredicate, afterMs = 100): void {
    this.runner.failNewTasks(predicate, afterMs);
  }

  /** Ends the session cleanly, as a stopping node does; the manager marks it down when its heartbeats stop counting (three periods). */
  async stop(): Promise<void> {
    this.shutdown('stopped');
  }

  /**
   * The node hangs: heartbeats and reports stop but its session is not closed, so the manager
   * notices only through missed heartbeats (three periods). stop() afterwards releases its connection.
   */
  kill(): void {
    if (this.state === 'stopped' || this.state === 'killed') return;
    this.state = 'killed';
    this.clearTimers();
    this.reporter.offline();
    this.runner.clear();
    // Keep reading (and dropping) what the manager sends, so its stream is not held up by us.
    this.call?.removeAllListeners('data');
    this.call?.on('data', () => undefined);
  }

  private shutdown(state: 'stopped' | 'removed'): void {
    if (this.state === 'stopped') return;
    this.state = state;
    this.clearTimers();
    this.reporter.offline();
    this.runner.clear();
    this.call?.cancel();
    this.call = undefined;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private connect(): void {
    if (this.state === 'stopped' || this.state === 'killed' || this.state === 'removed') return;
    this.state = 'connecting';
    const address = this.nextManager();
    const call = this.client(address).session({
      description: {
        hostname: this.opts.hostname,
        platform: this.opts.platform ?? { os: 'linux', architecture: 'x86_64' },
        resources: this.opts.resources ?? { nanoCpus: 4e9, memoryBytes: 8 * GiB },
        labels: this.opts.labels ?? {},
      },
    });
    this.call = call;
    call.on('data', (msg: SessionMessage) => {
      if (this.call === call) this.onSessionMessage(address, msg);
    });
    call.on('error', (err: ServiceError) => {
      if (this.call === call) this.onSessionLost(err);
    });
    call.on('end', () => {
      if (this.call === call) this.onSessionLost(undefined);
    });
  }

  private onSessionMessage(address: string, msg: SessionMessage): void {
    if (this.state === 'killed') return;
    const fresh = this.state !== 'connected';
    this.assignmentMessages++;
    this.sessionId = msg.sessionId;
    this.connectedTo = address;
    this.hintedLeader = undefined;
    for (const m of msg.managers) if (!this.managers.includes(m)) this.managers.push(m);
    if (msg.heartbeatPeriodMs > 0) this.heartbeatPeriodMs = msg.heartbeatPeriodMs;
    if (msg.networkState) this.lastNetworkState = msg.networkState;
    if (msg.full) this.runner.assign(msg.updated);
    else this.runner.applyChanges(msg.updated, msg.removed);
    if (!fresh) return;
    this.state = 'connected';
    this.sessionsOpened++;
    this.scheduleHeartbeat();
    const { sessionId } = this;
    const client = this.client(address);
    this.reporter.online((updates) => this.sendStatus(client, sessionId, updates));
    for (const resolve of this.registeredWaiters.splice(0)) resolve();
  }

  private onSessionLost(err: ServiceError | undefined): void {
    this.call = undefined;
    this.connectedTo = undefined;
    this.reporter.offline();
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    if (this.state === 'stopped' || this.state === 'killed' || this.state === 'removed') return;
    if (err?.code === grpcStatus.NOT_FOUND && /removed|not part of the cluster/.test(err.details)) {
      this.shutdown('removed');
      return;
    }
    this.hintedLeader = leaderAddressFrom(err?.metadata);
    this.state = 'connecting';
    // Straight to a named leader; otherwise pause, so a cluster mid-election is not hammered.
    const delay = this.hintedLeader ? 0 : (this.opts.reconnectDelayMs ?? 100);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  /** Restarts the session (the manager no longer knows it, or is no longer the leader). */
  private restartSession(err: ServiceError): void {
    const call = this.call;
    if (!call) return;
    this.call = undefined;
    call.cancel();
    this.onSessionLost(err);
  }

  /**
   * Heartbeats go out once per period, counted from the previous send rather than its answer, so a
   * slow manager does not stretch the interval towards the three periods that mark a node down.
   */
  private scheduleHeartbeat(delayMs = this.heartbeatPeriodMs): void {
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = undefined;
      const address = this.connectedTo;
      if (this.state !== 'connected' || !address) return;
      const sentAt = Date.now();
      const { sessionId } = this;
      // Unanswered for three periods, the session is lost anyway: start a new one.
      const deadline = sentAt + MISSED_HEARTBEATS * this.heartbeatPeriodMs;
      this.client(address).heartbeat({ sessionId }, new Metadata(), { deadline }, (err, res) => {
        // An answer about a session since replaced starts nothing (the new one has its own heartbeats).
        if (this.state !== 'connected' || this.sessionId !== sessionId) return;
        if (err) {
          this.restartSession(err);
          return;
        }
        this.heartbeatsAnswered++;
        if (res.periodMs > 0) this.heartbeatPeriodMs = res.periodMs;
        this.scheduleHeartbeat(Math.max(0, sentAt + this.heartbeatPeriodMs - Date.now()));
      });
    }, delayMs);
  }

  private sendStatus(client: DispatcherClient, sessionId: string, updates: TaskStatusUpdate[]): Promise<void> {
    return new Promise((resolve, reject) =>
      client.updateTaskStatus({ sessionId, updates }, (err) => {
        if (!err) {
          resolve();
          return;
        }
        if (this.sessionId === sessionId && this.state === 'connected') this.restartSession(err);
        reject(err);
      }),
    );
  }

  private nextManager(): string {
    if (this.hintedLeader) return this.hintedLeader;
    const address = this.managers[this.managerIndex % this.managers.length];
    this.managerIndex++;
    return address;
  }

  private client(address: string): DispatcherClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new DispatcherClient(address, grpcChannelCredentials(this.creds!), {
        ...MANAGER_CHANNEL_OPTIONS,
        // A manager that died should be retried on our schedule, not gRPC's long back-off.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        // A node's full set can be large (thousands of tasks), and the default 64 KiB window
        // would make a busy manager wait on every node's window as it sends.
        'grpc-node.flow_control_window': 16 * 1024 * 1024,
      });
      this.clients.set(address, client);
    }
    return client;
  }

  private clearTimers(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.heartbeatTimer = undefined;
    this.reconnectTimer = undefined;
  }
}
