/**
 * A follower's dispatcher: passes a node's calls on to the leader over one gRPC channel made with
 * this manager's own credentials, adding the metadata that makes the leader act for the node
 * (caller.ts), and hands the leader's answers back unchanged. A proxied session stream lives only
 * as long as the leader it was opened on leads: when the leader changes (or this manager becomes
 * leader) it ends UNAVAILABLE with the new leader's address when known, so the node reconnects.
 */
import * as grpc from '@grpc/grpc-js';
import { DispatcherClient, type PublishLogsRequest, type PublishLogsResponse, type SessionMessage } from '../../../proto/gen/dispatcher.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { ManagerChannel } from '../leader-forwarder.js';
import { forwardingMetadata, type NodeCaller } from './caller.js';
import { leaderAddressFrom, notLeaderStatus } from './leader-hint.js';
import type { SessionCall } from './node-sessions.js';

export interface LeaderProxyOptions {
  /** The Raft leader's address as this manager knows it. */
  leaderAddress: () => string | undefined;
  /** Whether this manager is the Raft leader (it must not forward to itself). */
  isLeader: () => boolean;
  managerChannel: () => ManagerChannel;
  clock: Clock;
  logger: Logger;
  /** How often open proxied streams check that their leader still leads. */
  leaderCheckMs: number;
  /** Deadline of a forwarded unary call whose caller set none. */
  callTimeoutMs: number;
}

interface ProxiedStream {
  /** The leader's address the stream was opened on. */
  leader: string;
  end(status: Partial<grpc.StatusObject>): void;
}

/** Makes one unary call on the leader's client. */
export type ForwardUnary<Res> = (
  client: DispatcherClient,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, response?: Res) => void,
) => void;

export class LeaderProxy {
  private channel: { address: string; from: ManagerChannel; client: DispatcherClient } | undefined;
  private readonly streams = new Set<ProxiedStream>();
  private leaderCheck: TimerHandle | undefined;

  constructor(private readonly opts: LeaderProxyOptions) {}

  /** Opens the node's session on the leader and relays its messages until either side ends it. */
  session(call: SessionCall, caller: NodeCaller): void {
    const leader = this.forwardTarget();
    if (!leader) {
      call.emit('error', notLeaderStatus(this.opts.leaderAddress()));
      return;
    }
    const upstream = this.client(leader).session(call.request, forwardingMetadata(caller));
    let ended = false;
    const stream: ProxiedStream = {
      leader,
      end: (status) => {
        if (ended) return;
        ended = true;
        this.streams.delete(stream);
        upstream.cancel();
        if (!call.cancelled && !call.writableEnded) call.emit('error', status);
      },
    };
    this.streams.add(stream);
    this.watchLeader();
    upstream.on('data', (message: SessionMessage) => {
      // The node reads slower than the leader writes: hold the leader back rather than buffer.
      if (!call.write(message)) upstream.pause();
    });
    call.on('drain', () => upstream.resume());
    upstream.on('error', (err: grpc.ServiceError) => stream.end(this.relayed(err, leader)));
    upstream.on('end', () => {
      if (ended) return;
      ended = true;
      this.streams.delete(stream);
      call.end();
    });
    call.on('cancelled', () => stream.end({ code: grpc.status.CANCELLED, details: 'the node ended its session' }));
    this.opts.logger.debug({ nodeId: caller.identity.nodeId, leader }, 'dispatcher: session forwarded to the leader');
  }

  /**
   * Passes a node's PublishLogs call on to the leader, request by request, holding the node back
   * while the leader's side cannot take more; the leader's answer comes back as is.
   */
  clientStream(call: grpc.ServerReadableStream<PublishLogsRequest, PublishLogsResponse>, caller: NodeCaller, callback: grpc.sendUnaryData<PublishLogsResponse>): void {
    const leader = this.forwardTarget();
    if (!leader) {
      callback(notLeaderStatus(this.opts.leaderAddress()));
      return;
    }
    const upstream = this.client(leader).publishLogs(forwardingMetadata(caller), (err, response) => (err ? callback(this.relayed(err, leader)) : callback(null, response)));
    call.on('data', (request: PublishLogsRequest) => {
      if (!upstream.write(request)) {
        call.pause();
        upstream.once('drain', () => call.resume());
      }
    });
    call.on('end', () => upstream.end());
    call.on('cancelled', () => upstream.cancel());
  }

  /**
   * Passes a unary call on to the leader: `send` makes it on the leader's client with the metadata
   * and options given; its answer or error comes back as is.
   */
  unary<Res>(caller: NodeCaller, deadline: grpc.Deadline, callback: grpc.sendUnaryData<Res>, send: ForwardUnary<Res>): void {
    const leader = this.forwardTarget();
    if (!leader) {
      callback(notLeaderStatus(this.opts.leaderAddress()));
      return;
    }
    const own = deadline instanceof Date ? deadline.getTime() : deadline;
    const limit = Date.now() + this.opts.callTimeoutMs;
    const options = { deadline: Number.isFinite(own) ? Math.min(own, limit) : limit };
    send(this.client(leader), forwardingMetadata(caller), options, (err, response) => (err ? callback(err) : callback(null, response)));
  }

  /** Ends every proxied stream (this manager now leads: its nodes reconnect to it). */
  endAll(status: Partial<grpc.StatusObject>): void {
    for (const stream of [...this.streams]) stream.end(status);
  }

  close(): void {
    this.endAll({ code: grpc.status.UNAVAILABLE, details: 'this manager is shutting down' });
    this.leaderCheck?.cancel();
    this.leaderCheck = undefined;
    this.channel?.client.close();
    this.channel = undefined;
  }

  /**
   * The leader's status as it sent it; when the leader could not be reached and another is known
   * now, with that one's address added, so the node goes straight there.
   */
  private relayed(err: grpc.ServiceError, from: string): Partial<grpc.StatusObject> {
    const now = this.opts.leaderAddress();
    if (err.code === grpc.status.UNAVAILABLE && leaderAddressFrom(err.metadata) === undefined && now && now !== from) {
      return notLeaderStatus(now);
    }
    return { code: err.code, details: err.details, metadata: err.metadata };
  }

  /** The leader to forward to: known, reachable, and not this manager (which would forward to itself). */
  private forwardTarget(): string | undefined {
    const leader = this.opts.leaderAddress();
    return leader && !this.opts.isLeader() ? leader : undefined;
  }

  /** While streams are open, checks now and then that their leader still leads. */
  private watchLeader(): void {
    if (this.leaderCheck) return;
    this.leaderCheck = this.opts.clock.setTimer(this.opts.leaderCheckMs, () => {
      this.leaderCheck = undefined;
      const now = this.opts.leaderAddress();
      const moved = this.opts.isLeader();
      for (const stream of [...this.streams]) {
        if (!moved && now === stream.leader) continue;
        stream.end(notLeaderStatus(now));
      }
      if (this.streams.size > 0) this.watchLeader();
    });
  }

  /** One client per leader, made anew when the leader or this manager's credentials change. */
  private client(address: string): DispatcherClient {
    const from = this.opts.managerChannel();
    const current = this.channel;
    if (current && current.address === address && current.from.credentials === from.credentials) return current.client;
    // Closing may end what still runs on the old channel UNAVAILABLE: its nodes reconnect, as on a leader change.
    current?.client.close();
    this.channel = { address, from, client: new DispatcherClient(address, from.credentials, from.options) };
    return this.channel.client;
  }
}
