/**
 * Serves an etcd Range request from the keyspace with etcd's semantics: the count covers the whole
 * range, revision filters and sorting come before the limit, `more` says the limit cut something off.
 * Only the newest revision is kept, so older revisions read as compacted.
 */
import type { KeyValue } from '../../proto/gen/etcd/mvccpb/kv.js';
import {
  RangeRequest_SortOrder as SortOrder,
  RangeRequest_SortTarget as SortTarget,
  type RangeRequest,
  type RangeResponse,
} from '../../proto/gen/etcd/etcdserverpb/rpc.js';
import { etcdErrors } from './etcd-errors.js';
import { keyBytes, keyRange, type Keyspace, type StoredKv } from './keyspace.js';

export function runRange(keyspace: Keyspace, req: RangeRequest): Omit<RangeResponse, 'header'> {
  if (req.key.length === 0) throw etcdErrors.emptyKey();
  if (req.revision > keyspace.revision) throw etcdErrors.futureRevision();
  if (req.revision > 0 && req.revision < keyspace.revision) throw etcdErrors.compacted();

  const inRange = keyspace.scan(keyRange(req.key, req.rangeEnd));
  if (req.countOnly) return { kvs: [], more: false, count: inRange.length };

  let kvs = inRange.filter((kv) => passesRevisionFilters(kv, req));
  kvs = sorted(kvs, req.sortOrder, req.sortTarget);
  const more = req.limit > 0 && kvs.length > req.limit;
  if (more) kvs = kvs.slice(0, req.limit);
  return { kvs: kvs.map((kv) => toKeyValue(kv, req.keysOnly)), more, count: inRange.length };
}

export function toKeyValue(kv: StoredKv, keysOnly = false): KeyValue {
  return {
    key: keyBytes(kv.key),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    value: keysOnly ? Buffer.alloc(0) : Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength),
    lease: 0,
  };
}

function passesRevisionFilters(kv: StoredKv, req: RangeRequest): boolean {
  if (req.minModRevision > 0 && kv.modRevision < req.minModRevision) return false;
  if (req.maxModRevision > 0 && kv.modRevision > req.maxModRevision) return false;
  if (req.minCreateRevision > 0 && kv.createRevision < req.minCreateRevision) return false;
  if (req.maxCreateRevision > 0 && kv.createRevision > req.maxCreateRevision) return false;
  return true;
}

function sorted(kvs: StoredKv[], order: SortOrder, target: SortTarget): StoredKv[] {
  // As in etcd: a sort target without an order means ascending; keys are already ascending.
  const effectiveOrder = order === SortOrder.NONE && target !== SortTarget.KEY ? SortOrder.ASCEND : order;
  if (effectiveOrder === SortOrder.NONE || (effectiveOrder === SortOrder.ASCEND && target === SortTarget.KEY)) {
    return kvs;
  }
  const compare = comparator(target);
  const sign = effectiveOrder === SortOrder.DESCEND ? -1 : 1;
  return [...kvs].sort((a, b) => sign * compare(a, b));
}

function comparator(target: SortTarget): (a: StoredKv, b: StoredKv) => number {
  switch (target) {
    case SortTarget.VERSION:
      return (a, b) => a.version - b.version;
    case SortTarget.CREATE:
      return (a, b) => a.createRevision - b.createRevision;
    case SortTarget.MOD:
      return (a, b) => a.modRevision - b.modRevision;
    case SortTarget.VALUE:
      return (a, b) => Buffer.compare(a.value, b.value);
    default:
      return (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }
}
