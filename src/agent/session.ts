/**
 * The agent's session with the managers (proto/dispatcher.proto), over mutual TLS with the node's
 * certificate (which names the node: no request carries its id): one Session stream at a time to
 * one manager, which registers the node and streams its assignments (a full set first, then
 * changes); heartbeats at the period the manager gives; status reports over the same connection.
 *
 * When a session fails it reconnects: straight to the leader if the refusing manager named one
 * (leader-hint.ts), otherwise to the next manager it knows (the join addresses, then every manager
 * the sessions listed) after a jittered exponential back-off. A refusal saying the node was removed
 * from the cluster ends the session for good. A renewed certificate starts a new session with it.
 */
import * as grpc from '@grpc/grpc-js';
import { DispatcherClient, type PublishLogsRequest, type SessionMessage, type TaskStatusUpdate } from '../../proto/gen/dispatcher.js';
import type { NodeDescription } from '../../proto/gen/objects.js';
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { systemRandom, type Random } from '../common/random.js';
import { MISSED_HEARTBEATS } from '../manager/dispatcher/dispatcher.js';
import { grpcChannelCredentials, MANAGER_CHANNEL_OPTIONS } from '../manager/ca/grpc-credentials.js';
import type { NodeCredentials } from '../manager/ca/node-credentials.js';
import { leaderAddressFrom } from '../manager/dispatcher/leader-hint.js';
import { backoffDelay, DEFAULT_RECONNECT_BACKOFF, type BackoffConfig } from './backoff.js';
import { isRemovalRefusal } from './refusals.js';
import type { SendStatus } from './status-reporter.js';

export interface SessionEvents {
  /** Every message of a live session (the first is always a full assignment set). */
  message(msg: SessionMessage): void;
  /** A session is registered (its first message arrived): status reports may go through `send`. */
  online(send: SendStatus): void;
  /** The session is gone; a new one is on its way. */
  offline(): void;
  /** The managers say this node is no longer part of the cluster. The session has stopped for good. */
  removed(message: string): void;
}

export interface SessionOptions {
  /** Manager addresses (HOST:PORT) to try first, in order: the join address(es). */
  managers: string[];
  /** The node's certificate, key and cluster root: its identity on every call. */
  credentials: NodeCredentials;
  /** Read at each registration, so the managers always get the node's current description. */
  description: () => NodeDescription;
  events: SessionEvents;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  backoff?: BackoffConfig;
}

/** The heartbeat period assumed until a manager gives one (the cluster default). */
const INITIAL_HEARTBEAT_PERIOD_MS = 5_000;
/** How long a status report call may take before it counts as failed. */
const STATUS_DEADLINE_MS = 10_000;

export class AgentSession {
  private nodeCredentials: NodeCredentials;
  private channelCredentials: grpc.ChannelCredentials;
  private sessionId = '';
  private knownManagers: string[];
  private readonly joinAddresses: string[];
  private nextIndex = 0;
  /** The previous attempt went to a hinted leader: a second hint in a row waits out the back-off. */
  private followedHint = false;
  private failures = 0;
  private heartbeatPeriodMs = INITIAL_HEARTBEAT_PERIOD_MS;
  private state: 'idle' | 'connecting' | 'online' | 'stopped' = 'idle';
  private address: string | undefined;
  private call: grpc.ClientReadableStream<SessionMessage> | undefined;
  private readonly clients = new Map<string, DispatcherClient>();
  private heartbeatTimer: TimerHandle | undefined;
  private reconnectTimer: TimerHandle | undefined;
  /** Ends an attempt whose manager accepted the stream but never registered the node. */
  private registrationTimer: TimerHandle | undefined;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly backoff: BackoffConfig;

  constructor(private readonly opts: SessionOptions) {
    if (opts.managers.length === 0) throw new Error('the agent needs at least one manager address');
    this.nodeCredentials = opts.credentials;
    this.channelCredentials = grpcChannelCredentials(opts.credentials);
    this.joinAddresses = [...new Set(opts.managers)];
    this.knownManagers = [...this.joinAddresses];
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
    this.logger = opts.logger ?? silentLogger;
    this.backoff = opts.backoff ?? DEFAULT_RECONNECT_BACKOFF;
  }

  get nodeId(): string {
    return this.nodeCredentials.nodeId;
  }

  /** Every manager this session knows of, the join addresses included. */
  get managers(): string[] {
    return [...this.knownManagers];
  }

  /** The manager of the live session, if there is one. */
  get connectedTo(): string | undefined {
    return this.state === 'online' ? this.address : undefined;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.connect(this.pickManager());
  }

  /**
   * From now on calls present `creds` (a renewed certificate): the connections made with the old one
   * are closed and a session is opened anew at once, to the same manager.
   */
  updateCredentials(creds: NodeCredentials): void {
    if (creds.nodeId !== this.nodeId) throw new Error(`the new certificate names node ${creds.nodeId}, not ${this.nodeId}`);
    this.nodeCredentials = creds;
    this.channelCredentials = grpcChannelCredentials(creds);
    if (this.state === 'stopped' || this.state === 'idle') {
      this.closeClients();
      return;
    }
    const wasOnline = this.state === 'online';
    const call = this.call;
    this.call = undefined;
    this.clearTimers();
    call?.cancel();
    this.closeClients();
    if (wasOnline) this.opts.events.offline();
    this.logger.info({ manager: this.address }, 'agent: reopening the session with the renewed certificate');
    this.connect(this.address ?? this.pickManager());
  }

  /**
   * A PublishLogs call to the manager of the live session, answering one of its log
   * subscriptions; undefined while there is no live session. `done` gets how the call ended.
   */
  publishLogs(done: (err: grpc.ServiceError | null) => void): { sessionId: string; stream: grpc.ClientWritableStream<PublishLogsRequest> } | undefined {
    if (this.state !== 'online' || this.address === undefined) return undefined;
    return { sessionId: this.sessionId, stream: this.client(this.address).publishLogs((err) => done(err)) };
  }

  /** Ends the session (the manager sees the stream close) and every connection. */
  stop(): void {
    if (this.state === 'stopped') return;
    const wasOnline = this.state === 'online';
    this.state = 'stopped';
    this.clearTimers();
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.closeClients();
    if (wasOnline) this.opts.events.offline();
  }

  private closeClients(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private connect(address: string): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    this.address = address;
    this.logger.debug({ manager: address, nodeId: this.nodeId }, 'agent: opening a session');
    const call = this.client(address).session({ description: this.opts.description() });
    this.call = call;
    this.registrationTimer = this.clock.setTimer(MISSED_HEARTBEATS * this.heartbeatPeriodMs, () => {
      this.registrationTimer = undefined;
      if (this.call === call) this.abandon(call, undefined, 'the manager did not register the node in time');
    });
    call.on('data', (msg: SessionMessage) => {
      if (this.call === call) this.onMessage(call, address, msg);
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (this.call === call) this.onLost(err);
    });
    call.on('end', () => {
      if (this.call === call) this.onLost(undefined);
    });
  }

  private onMessage(call: grpc.ClientReadableStream<SessionMessage>, address: string, msg: SessionMessage): void {
    const fresh = this.state !== 'online';
    // Changes mean nothing without the set they change: a session that does not start with one is broken.
    if (fresh && !msg.full) {
      this.abandon(call, undefined, 'the manager sent changes before the full assignment set');
      return;
    }
    this.sessionId = msg.sessionId;
    if (msg.heartbeatPeriodMs > 0) this.heartbeatPeriodMs = msg.heartbeatPeriodMs;
    if (msg.managers.length > 0) {
      // The cluster's own list first; join addresses it does not name stay as a last resort.
      this.knownManagers = [...new Set([...msg.managers, ...this.joinAddresses])];
    }
    if (fresh) {
      this.state = 'online';
      this.failures = 0;
      this.followedHint = false;
      this.registrationTimer?.cancel();
      this.registrationTimer = undefined;
      this.logger.info({ manager: address, nodeId: this.nodeId }, 'agent: session open');
    }
    this.opts.events.message(msg);
    if (!fresh) return;
    this.scheduleHeartbeat(this.heartbeatPeriodMs);
    const { sessionId } = this;
    const client = this.client(address);
    this.opts.events.online((updates) => this.sendStatus(client, sessionId, updates));
  }

  /** The stream failed or ended: reconnect, to the leader if one was named, else onwards. */
  private onLost(err: grpc.ServiceError | undefined, why?: string): void {
    const wasOnline = this.state === 'online';
    this.call = undefined;
    this.clearTimers();
    if (this.state === 'stopped') return;
    if (wasOnline) this.opts.events.offline();
    if (isRemovalRefusal(err)) {
      this.logger.error({ nodeId: this.nodeId, err: err?.details }, 'agent: this node was removed from the cluster');
      this.stop();
      this.opts.events.removed(err?.details ?? 'this node was removed from the cluster');
      return;
    }
    this.state = 'connecting';
    this.failures++;
    const hint = leaderAddressFrom(err?.metadata);
    const useHint = hint !== undefined && hint !== this.address && !this.followedHint;
    this.followedHint = useHint;
    if (hint && !this.knownManagers.includes(hint)) this.knownManagers.push(hint);
    const target = useHint ? hint : this.pickManager();
    const delayMs = useHint ? 0 : backoffDelay(this.failures, this.backoff, this.random);
    this.logger.info(
      { manager: this.address, reason: why ?? err?.details ?? 'stream ended', next: target, delayMs },
      wasOnline ? 'agent: session lost; reconnecting' : 'agent: session attempt failed; retrying',
    );
    this.reconnectTimer = this.clock.setTimer(delayMs, () => {
      this.reconnectTimer = undefined;
      this.connect(target);
    });
  }

  /** Gives up on the current stream (the manager stopped answering, or refused a call of it). */
  private abandon(call: grpc.ClientReadableStream<SessionMessage>, err: grpc.ServiceError | undefined, why: string): void {
    if (this.call !== call) return;
    this.call = undefined;
    call.cancel();
    this.onLost(err, why);
  }

  /**
   * One heartbeat per period, counted from the previous send rather than its answer, so a slow
   * manager does not stretch the interval towards the three periods that mark a node down.
   */
  private scheduleHeartbeat(delayMs: number): void {
    this.heartbeatTimer = this.clock.setTimer(delayMs, () => {
      this.heartbeatTimer = undefined;
      const call = this.call;
      const address = this.address;
      if (this.state !== 'online' || !call || !address) return;
      const sentAt = this.clock.now();
      const { sessionId } = this;
      const deadline = Date.now() + MISSED_HEARTBEATS * this.heartbeatPeriodMs;
      this.client(address).heartbeat({ sessionId }, new grpc.Metadata(), { deadline }, (err, res) => {
        if (this.call !== call) return;
        if (err) {
          this.abandon(call, err, `heartbeat failed: ${err.details || err.message}`);
          return;
        }
        if (res.periodMs > 0) this.heartbeatPeriodMs = res.periodMs;
        this.scheduleHeartbeat(Math.max(0, sentAt + this.heartbeatPeriodMs - this.clock.now()));
      });
    });
  }

  private sendStatus(client: DispatcherClient, sessionId: string, updates: TaskStatusUpdate[]): Promise<void> {
    const call = this.call;
    return new Promise((resolve, reject) =>
      client.updateTaskStatus({ sessionId, updates }, new grpc.Metadata(), { deadline: Date.now() + STATUS_DEADLINE_MS }, (err) => {
        if (!err) {
          resolve();
          return;
        }
        // The manager lost the session or leadership: the session must be opened anew.
        const sessionGone = err.code === grpc.status.NOT_FOUND || err.code === grpc.status.UNAVAILABLE;
        if (sessionGone && call && this.call === call && this.sessionId === sessionId) {
          this.abandon(call, err, `status report refused: ${err.details || err.message}`);
        }
        reject(err);
      }),
    );
  }

  /** The next manager in turn, skipping the one just tried when there is another. */
  private pickManager(): string {
    const managers = this.knownManagers;
    let address = managers[this.nextIndex % managers.length]!;
    this.nextIndex++;
    if (address === this.address && managers.length > 1) {
      address = managers[this.nextIndex % managers.length]!;
      this.nextIndex++;
    }
    return address;
  }

  private client(address: string): DispatcherClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new DispatcherClient(address, this.channelCredentials, {
        ...MANAGER_CHANNEL_OPTIONS,
        // A manager that died is retried on this session's schedule, not gRPC's long back-off.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
        // A node running thousands of tasks receives them all in one assignment set.
        'grpc.max_receive_message_length': -1,
      });
      this.clients.set(address, client);
    }
    return client;
  }

  private clearTimers(): void {
    this.heartbeatTimer?.cancel();
    this.reconnectTimer?.cancel();
    this.registrationTimer?.cancel();
    this.heartbeatTimer = undefined;
    this.reconnectTimer = undefined;
    this.registrationTimer = undefined;
  }
}
