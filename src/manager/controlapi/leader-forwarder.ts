/**
 * Passes a Control call on to the Raft leader. Every manager serves the Control service on its Raft
 * gRPC address too, and every manager knows the leader's Raft address from the Raft configuration,
 * so a follower calls the leader there. Forwarded calls carry FORWARDED_METADATA so a call is never
 * forwarded twice (the receiving manager refuses it if it is not the leader either).
 */
import { credentials as grpcCredentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { ControlClient, ControlService } from '../../../proto/gen/control.js';
import { systemClock, type Clock } from '../../common/clock.js';
import type { RaftNode } from '../../raft/node.js';
import { noLeader } from './control-errors.js';

export const FORWARDED_METADATA = 'shoal-forwarded';

type ControlMethods = typeof ControlService;
export type ControlMethod = keyof ControlMethods;
export type RequestOf<M extends ControlMethod> = Parameters<ControlMethods[M]['requestSerialize']>[0];
export type ResponseOf<M extends ControlMethod> = ReturnType<ControlMethods[M]['responseDeserialize']>;

export interface LeaderForwarderOptions {
  /** Where the leader is, as this manager's Raft node knows it. */
  raft: Pick<RaftNode, 'leader'>;
  clock?: Clock;
  /** How long a call waits for an election to produce a leader before failing UNAVAILABLE. */
  waitForLeaderMs?: number;
  /** The deadline of a forwarded call whose caller set none. */
  callTimeoutMs?: number;
  /** Channel credentials towards other managers (mutual TLS arrives with the join issue). */
  credentials?: ChannelCredentials;
}

const LEADER_POLL_MS = 25;
const DEFAULT_WAIT_FOR_LEADER_MS = 5_000;
const DEFAULT_CALL_TIMEOUT_MS = 60_000;

export interface KnownLeader {
  id: string;
  address: string;
}

export class LeaderForwarder {
  private readonly clients = new Map<string, ControlClient>();
  private readonly clock: Clock;
  private readonly waitForLeaderMs: number;
  private readonly callTimeoutMs: number;
  private readonly credentials: ChannelCredentials;
  private closed = false;

  constructor(private readonly opts: LeaderForwarderOptions) {
    this.clock = opts.clock ?? systemClock;
    this.waitForLeaderMs = opts.waitForLeaderMs ?? DEFAULT_WAIT_FOR_LEADER_MS;
    this.callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.credentials = opts.credentials ?? grpcCredentials.createInsecure();
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
  forward<M extends ControlMethod>(address: string, method: M, request: RequestOf<M>, deadline?: number): Promise<ResponseOf<M>> {
    const definition = ControlService[method];
    const metadata = new Metadata();
    metadata.set(FORWARDED_METADATA, '1');
    const callDeadline = Math.min(deadline ?? Number.POSITIVE_INFINITY, Date.now() + this.callTimeoutMs);
    return new Promise<ResponseOf<M>>((resolve, reject) => {
      this.clientFor(address).makeUnaryRequest(
        definition.path,
        definition.requestSerialize as (value: RequestOf<M>) => Buffer,
        definition.responseDeserialize as (value: Buffer) => ResponseOf<M>,
        request,
        metadata,
        { deadline: callDeadline },
        (err, response) => (err || response === undefined ? reject(err ?? new Error('empty response')) : resolve(response)),
      );
    });
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private clientFor(address: string): ControlClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      // No receive limit: a forwarded ListTasks of a large service is tens of megabytes.
      client = new ControlClient(address, this.credentials, { 'grpc.max_receive_message_length': -1 });
      this.clients.set(address, client);
    }
    return client;
  }
}
