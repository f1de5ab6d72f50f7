/**
 * The etcd KV and Maintenance gRPC services of a raft-kv member. Writes are proposed through Raft
 * and answered from what the FSM returned; linearizable reads wait for a confirmed read index, and
 * serializable reads are served from the local copy at once. A member that is not the leader passes
 * writes and linearizable reads on to the leader, so a client may talk to any member.
 */
import { status } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http2';
import {
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  StatusResponse,
  type ResponseHeader,
} from '../../proto/gen/etcd/etcdserverpb/rpc.js';
import type { RaftNode } from '../../src/raft/node.js';
import { RaftError } from '../../src/raft/types.js';
import { encodeCommand, type Command } from './commands.js';
import { EtcdError, etcdErrors } from './etcd-errors.js';
import { GrpcStatusError } from './h2-grpc/frame.js';
import type { UnaryHandler } from './h2-grpc/server.js';
import type { ApplyResult, KvFsm } from './kv-fsm.js';
import { FORWARDED_HEADER, type LeaderForwarder } from './leader-forwarder.js';
import { memberId } from './member-id.js';
import { runRange, toKeyValue } from './range-query.js';

/** The part of RaftNode the service uses. */
export type ConsensusNode = Pick<RaftNode, 'apply' | 'readIndex' | 'stats'>;

export interface EtcdServiceOptions {
  id: string;
  clusterId: number;
  node: ConsensusNode;
  /** The Raft term to report in response headers (kept current by the server, cheaper than stats()). */
  currentTerm: () => number;
  fsm: KvFsm;
  forwarder: LeaderForwarder;
  /** How long a request may wait for Raft (commit, read index, a leader to forward to). */
  requestTimeoutMs: number;
  /** Shown by `etcdctl endpoint status` in the version column. */
  version: string;
}

export class EtcdService {
  private readonly memberId: number;

  constructor(private readonly opts: EtcdServiceOptions) {
    this.memberId = memberId(opts.id);
  }

  /** The gRPC methods served, by path. Requests and answers are protobuf bytes, so a follower passes
   *  a request on to the leader, and the leader's answer back, without decoding them again. */
  readonly routes: ReadonlyMap<string, UnaryHandler> = new Map<string, UnaryHandler>([
    [PATHS.range, (body, headers) => this.range(body, isForwarded(headers))],
    [PATHS.put, (body, headers) => this.put(body, isForwarded(headers))],
    [PATHS.deleteRange, (body, headers) => this.deleteRange(body, isForwarded(headers))],
    [PATHS.status, async () => StatusResponse.encode(this.status()).finish()],
  ]);

  private async put(body: Buffer, forwarded: boolean): Promise<Uint8Array> {
    const req = PutRequest.decode(body);
    if (req.key.length === 0) throw etcdErrors.emptyKey();
    if (req.lease !== 0) throw etcdErrors.leaseNotFound();
    const outcome = await this.propose({ kind: 'put', request: req }, forwarded, PATHS.put, body);
    if ('fromLeader' in outcome) return outcome.fromLeader;
    const result = outcome.applied;
    if (result.kind === 'keyNotFound') throw etcdErrors.keyNotFound();
    if (result.kind !== 'put') throw new Error(`raft-kv: put produced ${result.kind}`);
    return PutResponse.encode({
      header: this.header(result.revision),
      prevKv: req.prevKv && result.prev ? toKeyValue(result.prev) : undefined,
    }).finish();
  }

  private async deleteRange(body: Buffer, forwarded: boolean): Promise<Uint8Array> {
    const req = DeleteRangeRequest.decode(body);
    if (req.key.length === 0) throw etcdErrors.emptyKey();
    const outcome = await this.propose({ kind: 'deleteRange', request: req }, forwarded, PATHS.deleteRange, body);
    if ('fromLeader' in outcome) return outcome.fromLeader;
    const result = outcome.applied;
    if (result.kind !== 'deleteRange') throw new Error(`raft-kv: deleteRange produced ${result.kind}`);
    return DeleteRangeResponse.encode({
      header: this.header(result.revision),
      deleted: result.deleted.length,
      prevKvs: req.prevKv ? result.deleted.map((kv) => toKeyValue(kv)) : [],
    }).finish();
  }

  private async range(body: Buffer, forwarded: boolean): Promise<Uint8Array> {
    const req = RangeRequest.decode(body);
    if (!req.serializable) {
      try {
        await this.opts.node.readIndex(this.opts.requestTimeoutMs);
      } catch (err) {
        if (!isNotLeader(err) || forwarded) throw toEtcdError(err);
        return this.forward(PATHS.range, body);
      }
    }
    const keyspace = this.opts.fsm.keyspace;
    return RangeResponse.encode({ header: this.header(keyspace.revision), ...runRange(keyspace, req) }).finish();
  }

  private status(): StatusResponse {
    const stats = this.opts.node.stats();
    const bytes = this.opts.fsm.keyspace.approximateBytes();
    return {
      header: this.header(this.opts.fsm.keyspace.revision),
      version: this.opts.version,
      dbSize: bytes,
      leader: stats.leader ? memberId(stats.leader) : 0,
      raftIndex: stats.commitIndex,
      raftTerm: stats.term,
      raftAppliedIndex: stats.appliedIndex,
      errors: [],
      dbSizeInUse: bytes,
      isLearner: false,
    };
  }

  /** Applies a command through Raft here if this member leads, else returns the leader's own answer. */
  private async propose(
    command: Command,
    forwarded: boolean,
    path: string,
    body: Buffer,
  ): Promise<{ applied: ApplyResult } | { fromLeader: Uint8Array }> {
    try {
      const { response } = await this.opts.node.apply(encodeCommand(command), this.opts.requestTimeoutMs);
      return { applied: response as ApplyResult };
    } catch (err) {
      // NotLeader guarantees the entry was not appended, so passing it on cannot apply it twice.
      if (!isNotLeader(err) || forwarded) throw toEtcdError(err);
      return { fromLeader: await this.forward(path, body) };
    }
  }

  /** Passes a request this member cannot answer to the leader, marked so it goes no further. */
  private async forward(path: string, body: Buffer): Promise<Uint8Array> {
    const client = await this.opts.forwarder.leaderClient(this.opts.requestTimeoutMs);
    return client.call(path, body, this.opts.requestTimeoutMs, { [FORWARDED_HEADER]: '1' });
  }

  private header(revision: number): ResponseHeader {
    return {
      clusterId: this.opts.clusterId,
      memberId: this.memberId,
      revision,
      raftTerm: this.opts.currentTerm(),
    };
  }
}

const PATHS = {
  range: '/etcdserverpb.KV/Range',
  put: '/etcdserverpb.KV/Put',
  deleteRange: '/etcdserverpb.KV/DeleteRange',
  status: '/etcdserverpb.Maintenance/Status',
};

function isForwarded(headers: IncomingHttpHeaders): boolean {
  return headers[FORWARDED_HEADER] !== undefined;
}

/** The gRPC status a failed request is answered with: etcd's own errors keep their codes and words. */
export function toGrpcStatus(err: unknown): GrpcStatusError {
  if (err instanceof GrpcStatusError) return err;
  if (err instanceof EtcdError) return new GrpcStatusError(err.code, err.message);
  if (err instanceof RaftError) return toGrpcStatus(toEtcdError(err));
  return new GrpcStatusError(status.INTERNAL, err instanceof Error ? err.message : String(err));
}

function toEtcdError(err: unknown): unknown {
  if (!(err instanceof RaftError)) return err;
  switch (err.code) {
    case 'NotLeader':
      return etcdErrors.noLeader();
    case 'LeadershipLost':
      return etcdErrors.leaderChanged();
    case 'Timeout':
      return etcdErrors.timeout();
    case 'Shutdown':
      return etcdErrors.stopped();
    default:
      return new EtcdError(status.INTERNAL, `etcdserver: ${err.message}`);
  }
}

function isNotLeader(err: unknown): boolean {
  return err instanceof RaftError && err.code === 'NotLeader';
}
