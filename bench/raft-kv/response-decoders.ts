/**
 * Client-side decoders of etcd responses. etcd's cluster and member ids use all 64 bits, more than
 * the generated decoders (which read 64-bit integers into JavaScript numbers) accept, so the client
 * reads responses itself and keeps those ids as decimal strings. Only fields the client uses are read.
 */
import _m0 from 'protobufjs/minimal.js';
import { KeyValue } from '../../proto/gen/etcd/mvccpb/kv.js';

export interface Header {
  clusterId: string;
  memberId: string;
  revision: number;
  raftTerm: number;
}

export interface PutResult {
  header: Header;
}

export interface RangeResult {
  header: Header;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface DeleteRangeResult {
  header: Header;
  deleted: number;
}

export interface StatusResult {
  header: Header;
  version: string;
  /** Member id of the leader the member knows of, "0" if none. */
  leader: string;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
}

export function decodePut(buf: Uint8Array): PutResult {
  const out: PutResult = { header: emptyHeader() };
  readFields(buf, (field, r) => (field === 1 ? ((out.header = decodeHeader(r.bytes())), true) : false));
  return out;
}

export function decodeRange(buf: Uint8Array): RangeResult {
  const out: RangeResult = { header: emptyHeader(), kvs: [], more: false, count: 0 };
  readFields(buf, (field, r) => {
    if (field === 1) out.header = decodeHeader(r.bytes());
    else if (field === 2) out.kvs.push(KeyValue.decode(r.bytes()));
    else if (field === 3) out.more = r.bool();
    else if (field === 4) out.count = Number(r.int64().toString());
    else return false;
    return true;
  });
  return out;
}

export function decodeDeleteRange(buf: Uint8Array): DeleteRangeResult {
  const out: DeleteRangeResult = { header: emptyHeader(), deleted: 0 };
  readFields(buf, (field, r) => {
    if (field === 1) out.header = decodeHeader(r.bytes());
    else if (field === 2) out.deleted = Number(r.int64().toString());
    else return false;
    return true;
  });
  return out;
}

export function decodeStatus(buf: Uint8Array): StatusResult {
  const out: StatusResult = { header: emptyHeader(), version: '', leader: '0', raftIndex: 0, raftTerm: 0, raftAppliedIndex: 0 };
  readFields(buf, (field, r) => {
    if (field === 1) out.header = decodeHeader(r.bytes());
    else if (field === 2) out.version = r.string();
    else if (field === 4) out.leader = r.uint64().toString();
    else if (field === 5) out.raftIndex = Number(r.uint64().toString());
    else if (field === 6) out.raftTerm = Number(r.uint64().toString());
    else if (field === 7) out.raftAppliedIndex = Number(r.uint64().toString());
    else return false;
    return true;
  });
  return out;
}

function decodeHeader(buf: Uint8Array): Header {
  const h = emptyHeader();
  readFields(buf, (field, r) => {
    if (field === 1) h.clusterId = r.uint64().toString();
    else if (field === 2) h.memberId = r.uint64().toString();
    else if (field === 3) h.revision = Number(r.int64().toString());
    else if (field === 4) h.raftTerm = Number(r.uint64().toString());
    else return false;
    return true;
  });
  return h;
}

function emptyHeader(): Header {
  return { clusterId: '0', memberId: '0', revision: 0, raftTerm: 0 };
}

/** Calls `read` for each field; it consumes the value and returns true, or returns false to skip it. */
function readFields(buf: Uint8Array, read: (field: number, r: _m0.Reader) => boolean): void {
  const r = _m0.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (!read(tag >>> 3, r)) r.skipType(tag & 7);
  }
}
