/**
 * A small promise-based client of the etcd v3 API (KV Put/Range/DeleteRange, Maintenance Status)
 * for one endpoint, over one HTTP/2 connection (h2-grpc/client.ts). The load generator, the
 * failover probe and the tests use it against raft-kv and real etcd alike. Requests are encoded with
 * the generated encoders; responses are read by response-decoders.ts, which copes with etcd's
 * 64-bit member ids.
 */
import {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  StatusRequest,
} from '../../proto/gen/etcd/etcdserverpb/rpc.js';
import { UnaryGrpcClient } from './h2-grpc/client.js';
import {
  decodeDeleteRange,
  decodePut,
  decodeRange,
  decodeStatus,
  type DeleteRangeResult,
  type PutResult,
  type RangeResult,
  type StatusResult,
} from './response-decoders.js';

export class EtcdClient {
  private readonly client: UnaryGrpcClient;

  constructor(readonly endpoint: string) {
    this.client = new UnaryGrpcClient(endpoint);
  }

  put(key: Uint8Array, value: Uint8Array, timeoutMs: number): Promise<PutResult> {
    const request = PutRequest.fromPartial({ key: toBuffer(key), value: toBuffer(value) });
    return this.unary('/etcdserverpb.KV/Put', PutRequest.encode(request).finish(), decodePut, timeoutMs);
  }

  /** A range read; linearizable unless `serializable`. Without rangeEnd it reads the key alone. */
  range(key: Uint8Array, timeoutMs: number, opts: { serializable?: boolean; rangeEnd?: Uint8Array } = {}): Promise<RangeResult> {
    const request = RangeRequest.fromPartial({
      key: toBuffer(key),
      rangeEnd: toBuffer(opts.rangeEnd ?? new Uint8Array()),
      serializable: opts.serializable ?? false,
    });
    return this.unary('/etcdserverpb.KV/Range', RangeRequest.encode(request).finish(), decodeRange, timeoutMs);
  }

  deleteRange(key: Uint8Array, rangeEnd: Uint8Array, timeoutMs: number): Promise<DeleteRangeResult> {
    const request = DeleteRangeRequest.fromPartial({ key: toBuffer(key), rangeEnd: toBuffer(rangeEnd) });
    return this.unary('/etcdserverpb.KV/DeleteRange', DeleteRangeRequest.encode(request).finish(), decodeDeleteRange, timeoutMs);
  }

  status(timeoutMs: number): Promise<StatusResult> {
    return this.unary('/etcdserverpb.Maintenance/Status', StatusRequest.encode({}).finish(), decodeStatus, timeoutMs);
  }

  close(): void {
    this.client.close();
  }

  private async unary<Res>(path: string, request: Uint8Array, decode: (b: Uint8Array) => Res, timeoutMs: number): Promise<Res> {
    return decode(await this.client.call(path, request, timeoutMs));
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
