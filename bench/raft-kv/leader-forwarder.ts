/**
 * Lets a follower pass a request on to the leader's client address. The leader's Raft id comes from
 * Raft; its client address from the announcement every leader replicates when elected (see KvFsm).
 * Until both are known (an election in progress) the forwarder waits, as etcd holds proposals while
 * it has no leader, up to the request's timeout.
 */
import type { Clock } from '../../src/common/clock.js';
import { etcdErrors } from './etcd-errors.js';
import { UnaryGrpcClient } from './h2-grpc/client.js';

/** The metadata key that marks a forwarded request, so it is never forwarded a second time. */
export const FORWARDED_HEADER = 'x-raft-kv-forwarded';

const LEADER_POLL_MS = 20;

export interface LeaderDirectory {
  /** The leader's client address if it is known and is not this server. */
  leaderClientAddress(): string | undefined;
}

export class LeaderForwarder {
  private readonly clients = new Map<string, UnaryGrpcClient>();
  private closed = false;

  constructor(
    private readonly directory: LeaderDirectory,
    private readonly clock: Clock,
  ) {}

  /** A client for the current leader, waiting up to `timeoutMs` for one to be known. */
  async leaderClient(timeoutMs: number): Promise<UnaryGrpcClient> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw etcdErrors.stopped();
      const address = this.directory.leaderClientAddress();
      if (address !== undefined) return this.clientFor(address);
      if (this.clock.now() >= deadline) throw etcdErrors.noLeader();
      await new Promise<void>((resolve) => this.clock.setTimer(LEADER_POLL_MS, resolve));
    }
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private clientFor(address: string): UnaryGrpcClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new UnaryGrpcClient(address);
      this.clients.set(address, client);
    }
    return client;
  }
}
