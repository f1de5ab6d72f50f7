/**
 * Passes a unary call on to the Raft leader. Every manager serves all its gRPC services on its Raft
 * address, and every manager knows the leader's Raft address from the Raft configuration, so a
 * follower calls the leader there. Forwarded calls carry FORWARDED_METADATA so a call is never
 * forwarded twice (the receiving manager refuses it if it is not the leader either). The Control
 * service forwards every call (controlapi/control-service.ts); the CA forwards the joins it must
 * record (ca-forwarding.ts). SubscribeLogs, a server stream, is relayed message by message.
 */
import { Client, credentials as grpcCredentials, Metadata, type ChannelCredentials, type ChannelOptions, type ClientReadableStream } from '@grpc/grpc-js';
import { systemClock, type Clock } from '../common/clock.js';
import type { RaftNode } from '../raft/node.js';
import { noLeader } from './controlapi/control-errors.js';

export const FORWARDED_METADATA = 'shoal-forwarded';

/** What forwarding needs of a generated method definition. */
export interface UnaryMethodDefinition<Req, Res> {
  path: string;
  requestSerialize: (value: Req) => Buffer;
  responseDeserialize: (value: Buffer) => Res;
}

/**
 * How to reach other managers: mutual TLS with this manager's own certificate. Read afresh on each
 * use since it renews; the same credentials object until it does, so channels can be reused.
 */
export interface ManagerChannel {
  credentials: ChannelCredentials;
  options: ChannelOptions;
}

export interface LeaderForwarderOptions {
  /** Where the leader is, as this manager's Raft node knows it. */
  raft: Pick<RaftNode, 'leader'>;
  clock?: Clock;
  /** How long a call waits for an election to produce a leader before failing UNAVAILABLE. */
  waitForLeaderMs?: number;
  /** The deadline of a forwarded call whose caller set none. */
  callTimeoutMs?: number;
  /** Default: plaintext (unit tests on unix sockets). */
  channel?: () => ManagerChannel;
}

const LEADER_POLL_MS = 25;
const DEFAULT_WAIT_FOR_LEADER_MS = 5_000;
const DEFAULT_CALL_TIMEOUT_MS = 60_000;
const PLAINTEXT: ManagerChannel = { credentials: grpcCredentials.createInsecure(), options: {} };

export interface KnownLeader {
  id: string;
  address: string;
}

export class LeaderForwarder {
  private readonly clients = new Map<string, Client>();
  /** The credentials the clients were made with: a renewed certificate means new clients. */
  private clientCredentials: ChannelCredentials | undefined;
  private readonly clock: Clock;
  private readonly waitForLeaderMs: number;
  private readonly callTimeoutMs: number;
  private closed = false;

  constructor(private readonly opts: LeaderForwarderOptions) {
    this.clock = opts.clock ?? systemClock;
    this.waitForLeaderMs = opts.waitForLeaderMs ?? DEFAULT_WAIT_FOR_LEADER_MS;
    this.callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  }

  /**
   * The leader, once one is known with an address (and is not `notId`, the one a call just failed
   * to reach); UNAVAILABLE if none appears in time.
   */
  async waitForLeader(notId?: string): Promise<KnownLeader> {
    const deadline = this.clock.now() + this.waitForLeaderMs;
    for (;;) {
      if (this.closed) throw noLeader();
      const leader = this.opts.raft.leader();
      if (leader !== undefined && leader.address !== '' && leader.id !== notId) return leader;
      if (this.clock.now() >= deadline) throw noLeader();
      await new Promise<void>((resolve) => this.clock.setTimer(LEADER_POLL_MS, resolve));
    }
  }

  /**
   * Calls `method` on the manager at `address`, marked as forwarded. `deadline` (ms since the
   * epoch) is the caller's own, so the leader gives up when the original caller would.
   */
  forward<Req, Res>(address: string, method: UnaryMethodDefinition<Req, Res>, request: Req, deadline?: number, metadata = new Metadata()): Promise<Res> {
    metadata.set(FORWARDED_METADATA, '1');
    const callDeadline = Math.min(deadline ?? Number.POSITIVE_INFINITY, Date.now() + this.callTimeoutMs);
    return new Promise<Res>((resolve, reject) => {
      this.clientFor(address).makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: callDeadline },
        (err, response) => (err || response === undefined ? reject(err ?? new Error('empty response')) : resolve(response)),
      );
    });
  }

  /**
   * Opens a server-streaming call of `method` on the manager at `address`, marked as forwarded. It
   * has no deadline: it lasts as long as its caller's (`shoal service logs --follow`), who cancels it.
   */
  forwardServerStream<Req, Res>(address: string, method: UnaryMethodDefinition<Req, Res>, request: Req): ClientReadableStream<Res> {
    const metadata = new Metadata();
    metadata.set(FORWARDED_METADATA, '1');
    return this.clientFor(address).makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request, metadata, {});
  }

  close(): void {
    this.closed = true;
    this.closeClients();
  }

  private closeClients(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private clientFor(address: string): Client {
    const channel = this.opts.channel?.() ?? PLAINTEXT;
    if (channel.credentials !== this.clientCredentials) {
      this.closeClients();
      this.clientCredentials = channel.credentials;
    }
    let client = this.clients.get(address);
    if (client === undefined) {
      // No receive limit: a forwarded ListTasks of a large service is tens of megabytes.
      client = new Client(address, channel.credentials, { ...channel.options, 'grpc.max_receive_message_length': -1 });
      this.clients.set(address, client);
    }
    return client;
  }
}

/** A call's deadline in ms since the epoch, or undefined when it has none. */
export function deadlineMs(deadline: Date | number): number | undefined {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}
