import { describe, expect, it } from 'vitest';
import {
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type DeleteRangeRequest,
  type PutRequest,
} from '../../proto/gen/etcd/etcdserverpb/rpc.js';
import { EntryType } from '../../src/raft/types.js';
import { encodeCommand, type Command } from './commands.js';
import { EtcdError } from './etcd-errors.js';
import { KvFsm, type ApplyResult } from './kv-fsm.js';
import { runRange } from './range-query.js';

let index = 0;
function apply(fsm: KvFsm, command: Command): ApplyResult {
  return fsm.apply({ index: ++index, term: 1, type: EntryType.Command, data: encodeCommand(command) });
}

function put(fsm: KvFsm, key: string, value: string, extra: Partial<PutRequest> = {}): ApplyResult {
  const request: PutRequest = {
    key: Buffer.from(key),
    value: Buffer.from(value),
    lease: 0,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
    ...extra,
  };
  return apply(fsm, { kind: 'put', request });
}

function del(fsm: KvFsm, key: string, rangeEnd = ''): ApplyResult {
  const request: DeleteRangeRequest = { key: Buffer.from(key), rangeEnd: Buffer.from(rangeEnd), prevKv: true };
  return apply(fsm, { kind: 'deleteRange', request });
}

function range(fsm: KvFsm, key: string, rangeEnd = '', extra: Partial<RangeRequest> = {}) {
  return runRange(fsm.keyspace, RangeRequest.fromPartial({ key: Buffer.from(key), rangeEnd: Buffer.from(rangeEnd), ...extra }));
}

const keysOf = (r: ReturnType<typeof range>): string[] => r.kvs.map((kv) => kv.key.toString());

describe('KvFsm', () => {
  it('tracks revisions, create/mod revisions and versions as etcd does', () => {
    const fsm = new KvFsm();
    expect(put(fsm, 'a', '1')).toEqual({ kind: 'put', revision: 1, prev: undefined });
    put(fsm, 'b', '1');
    const second = put(fsm, 'a', '2');
    expect(second).toMatchObject({ kind: 'put', revision: 3, prev: { createRevision: 1, modRevision: 1, version: 1 } });

    const [a] = range(fsm, 'a').kvs;
    expect(a).toMatchObject({ createRevision: 1, modRevision: 3, version: 2, lease: 0 });
    expect(a!.value.toString()).toBe('2');

    // Deleting resets the key: writing it again starts a new life at a new create revision.
    expect(del(fsm, 'a')).toMatchObject({ kind: 'deleteRange', revision: 4, deleted: [{ version: 2 }] });
    put(fsm, 'a', '3');
    expect(range(fsm, 'a').kvs[0]).toMatchObject({ createRevision: 5, modRevision: 5, version: 1 });
  });

  it('leaves the revision alone when a delete matches nothing', () => {
    const fsm = new KvFsm();
    put(fsm, 'a', '1');
    expect(del(fsm, 'zzz')).toEqual({ kind: 'deleteRange', revision: 1, deleted: [] });
  });

  it('refuses ignore_value on a missing key and keeps the old value on an existing one', () => {
    const fsm = new KvFsm();
    expect(put(fsm, 'a', 'x', { ignoreValue: true })).toEqual({ kind: 'keyNotFound', revision: 0 });
    put(fsm, 'a', 'old');
    put(fsm, 'a', 'ignored', { ignoreValue: true });
    expect(range(fsm, 'a').kvs[0]!.value.toString()).toBe('old');
  });

  it('serves prefixes, open ranges, limits, counts and keys-only reads', () => {
    const fsm = new KvFsm();
    for (const key of ['foo/c', 'foo/a', 'fop', 'foo/b', 'bar']) put(fsm, key, `v-${key}`);

    expect(keysOf(range(fsm, 'foo/', 'foo0'))).toEqual(['foo/a', 'foo/b', 'foo/c']);
    expect(keysOf(range(fsm, 'foo/b', '\0'))).toEqual(['foo/b', 'foo/c', 'fop']);
    expect(keysOf(range(fsm, '\0', '\0'))).toEqual(['bar', 'foo/a', 'foo/b', 'foo/c', 'fop']);

    const limited = range(fsm, 'foo/', 'foo0', { limit: 2 });
    expect(keysOf(limited)).toEqual(['foo/a', 'foo/b']);
    expect(limited).toMatchObject({ more: true, count: 3 });

    expect(range(fsm, 'foo/', 'foo0', { countOnly: true })).toEqual({ kvs: [], more: false, count: 3 });
    expect(range(fsm, 'bar', '', { keysOnly: true }).kvs[0]!.value.length).toBe(0);
  });

  it('sorts by the requested target and order before applying the limit', () => {
    const fsm = new KvFsm();
    put(fsm, 'k1', 'z');
    put(fsm, 'k2', 'y');
    put(fsm, 'k1', 'x');
    const byMod = range(fsm, 'k', 'l', {
      sortTarget: RangeRequest_SortTarget.MOD,
      sortOrder: RangeRequest_SortOrder.DESCEND,
      limit: 1,
    });
    expect(keysOf(byMod)).toEqual(['k1']);
    expect(keysOf(range(fsm, 'k', 'l', { sortTarget: RangeRequest_SortTarget.VALUE }))).toEqual(['k1', 'k2']);
    expect(keysOf(range(fsm, 'k', 'l', { sortOrder: RangeRequest_SortOrder.DESCEND }))).toEqual(['k2', 'k1']);
  });

  it('treats older revisions as compacted and newer ones as the future', () => {
    const fsm = new KvFsm();
    put(fsm, 'a', '1');
    put(fsm, 'a', '2');
    expect(() => range(fsm, 'a', '', { revision: 1 })).toThrow(/compacted/);
    expect(() => range(fsm, 'a', '', { revision: 3 })).toThrow(/future revision/);
    expect(() => range(fsm, '', '')).toThrow(EtcdError);
    expect(range(fsm, 'a', '', { revision: 2 }).count).toBe(1);
  });

  it('restores keys, revision and leader addresses from a snapshot', () => {
    const fsm = new KvFsm();
    apply(fsm, { kind: 'announce', announcement: { id: 'n1', clientAddress: '127.0.0.1:2379' } });
    put(fsm, 'a', '1');
    put(fsm, '\u00ff\u0000binary', 'v');
    del(fsm, 'a');
    put(fsm, 'b', '2');

    const copy = new KvFsm();
    put(copy, 'stale', 'gone');
    copy.restore(fsm.snapshot());

    expect(copy.keyspace.revision).toBe(4);
    expect(copy.clientAddressOf('n1')).toBe('127.0.0.1:2379');
    expect(range(copy, '\0', '\0').kvs).toEqual(range(fsm, '\0', '\0').kvs);
    expect(keysOf(range(copy, '\0', '\0'))).toEqual(['b', '\u00ff\u0000binary'].map((k) => Buffer.from(k).toString()));
  });
});
