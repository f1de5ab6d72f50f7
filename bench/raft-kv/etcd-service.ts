/**
 * The etcd KV and Maintenance gRPC services of a raft-kv member. Writes are proposed through Raft
 * and answered from what the FSM returned; linearizable reads wait for a confirmed read index, and
 * serializable reads are served from the local copy at once. A member that is not the leader passes
 * writes and linearizable reads on to the leader, so a client may talk to any member.
 */
import { Metadata, status, type handleUnaryCall, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  KVClient,
  KVServer,
  MaintenanceServer,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  StatusResponse,
} from '../../proto/gen/etcd/etcdserverpb/rpc.js';
import type { RaftNode } from '../../src/raft/node.js';
import { RaftError } from '../../src/raft/types.js';
import { encodeCommand, type Command } from './commands.js';
import { EtcdError, etcdErrors } from './etcd-errors.js';
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

  readonly kv: KVServer = {
    range: unary((req: RangeRequest, forwarded) => this.range(req, forwarded)),
    put: unary((req: PutRequest, forwarded) => this.put(req, forwarded)),
    deleteRange: unary((req: DeleteRangeRequest, forwarded) => this.deleteRange(req, forwarded)),
  };

  readonly maintenance: MaintenanceServer = {
    status: unary(async () => this.status()),
  };

  private async put(req: PutRequest, forwarded: boolean): Promise<PutResponse> {
    if (req.key.length === 0) throw etcdErrors.emptyKey();
    if (req.lease !== 0) throw etcdErrors.leaseNotFound();
    const outcome = await this.propose<PutResponse>({ kind: 'put', request: req }, forwarded, (c, md, o, cb) => c.put(req, md, o, cb));
    if ('fromLeader' in outcome) return outcome.fromLeader;
    const result = outcome.applied;
    if (result.kind === 'keyNotFound') throw etcdErrors.keyNotFound();
    if (result.kind !== 'put') throw new Error(`raft-kv: put produced ${result.kind}`);
    return {
      header: this.header(result.revision),
      prevKv: req.prevKv && result.prev ? toKeyValue(result.prev) : undefined,
    };
  }

  private async deleteRange(req: DeleteRangeRequest, forwarded: boolean): Promise<DeleteRangeResponse> {
    if (req.key.length === 0) throw etcdErrors.emptyKey();
    const outcome = await this.propose<DeleteRangeResponse>({ kind: 'deleteRange', request: req }, forwarded, (c, md, o, cb) =>
      c.deleteRange(req, md, o, cb),
    );
    if ('fromLeader' in outcome) return outcome.fromLeader;
    const result = outcome.applied;
    if (result.kind !== 'deleteRange') throw new Error(`raft-kv: deleteRange produced ${result.kind}`);
    return {
      header: this.header(result.revision),
      deleted: result.deleted.length,
      prevKvs: req.prevKv ? result.deleted.map((kv) => toKeyValue(kv)) : [],
    };
  }

  private async range(req: RangeRequest, forwarded: boolean): Promise<RangeResponse> {
    if (!req.serializable) {
      try {
        await this.opts.node.readIndex(this.opts.requestTimeoutMs);
      } catch (err) {
        if (!isNotLeader(err) || forwarded) throw toEtcdError(err);
        return this.forward<RangeResponse>(forwarded, (c, md, o, cb) => c.range(req, md, o, cb));
      }
    }
    const keyspace = this.opts.fsm.keyspace;
    return { header: this.header(keyspace.revision), ...runRange(keyspace, req) };
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
  private async propose<Res>(
    command: Command,
    forwarded: boolean,
    call: ForwardCall<Res>,
  ): Promise<{ applied: ApplyResult } | { fromLeader: Res }> {
    try {
      const { response } = await this.opts.node.apply(encodeCommand(command), this.opts.requestTimeoutMs);
      return { applied: response as ApplyResult };
    } catch (err) {
      // NotLeader guarantees the entry was not appended, so passing it on cannot apply it twice.
      if (!isNotLeader(err) || forwarded) throw toEtcdError(err);
      return { fromLeader: await this.forward(forwarded, call) };
    }
  }

  private async forward<Res>(forwarded: boolean, call: ForwardCall<Res>): Promise<Res> {
    if (forwarded) throw etcdErrors.noLeader();
    const client = await this.opts.forwarder.leaderClient(this.opts.requestTimeoutMs);
    const metadata = new Metadata();
    metadata.set(FORWARDED_HEADER, '1');
    return new Promise<Res>((resolve, reject) => {
      call(client, metadata, { deadline: Date.now() + this.opts.requestTimeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
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

type ForwardCall<Res> = (
  client: KVClient,
  metadata: Metadata,
  options: { deadline: number },
  callback: (err: ServiceError | null, res: Res) => void,
) => void;

/** Adapts an async handler to grpc-js, turning thrown errors into gRPC statuses. */
function unary<Req, Res>(handler: (req: Req, forwarded: boolean) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback) => {
    const forwarded = call.metadata.get(FORWARDED_HEADER).length > 0;
    handler(call.request, forwarded).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toStatus(err)),
    );
  };
}

function toStatus(err: unknown): { code: status; details: string } {
  if (err instanceof EtcdError) return { code: err.code, details: err.message };
  if (isServiceError(err)) return { code: err.code, details: err.details };
  if (err instanceof RaftError) return toStatus(toEtcdError(err));
  return { code: status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
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

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'details' in err;
}
