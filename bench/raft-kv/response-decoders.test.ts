import _m0 from 'protobufjs/minimal.js';
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { PutResponse, RangeResponse, StatusResponse } from '../../proto/gen/etcd/etcdserverpb/rpc.js';
import { decodePut, decodeRange, decodeStatus } from './response-decoders.js';

describe('response decoders', () => {
  it('read what the generated encoders write', () => {
    const kv = { key: Buffer.from('k'), value: Buffer.from('v'), createRevision: 2, modRevision: 5, version: 3, lease: 0 };
    const header = { clusterId: 7, memberId: 9, revision: 5, raftTerm: 2 };
    const range = decodeRange(RangeResponse.encode({ header, kvs: [kv, kv], more: true, count: 4 }).finish());
    expect(range).toEqual({
      header: { clusterId: '7', memberId: '9', revision: 5, raftTerm: 2 },
      kvs: [kv, kv],
      more: true,
      count: 4,
    });
    expect(decodePut(PutResponse.encode({ header, prevKv: kv }).finish()).header.revision).toBe(5);
  });

  it('keep 64-bit member ids, as real etcd sends them, exact', () => {
    // etcd member ids use all 64 bits; the generated decoder would refuse them.
    const big = Long.fromString('16045690984833335023', true);
    const header = _m0.Writer.create().uint32(8).uint64(big).uint32(16).uint64(big).uint32(24).int64(12).finish();
    const bytes = _m0.Writer.create()
      .uint32(10).bytes(header)
      .uint32(18).string('3.4.23')
      .uint32(32).uint64(big)
      .uint32(40).uint64(99)
      .finish();
    expect(() => StatusResponse.decode(bytes)).toThrow();
    expect(decodeStatus(bytes)).toEqual({
      header: { clusterId: '16045690984833335023', memberId: '16045690984833335023', revision: 12, raftTerm: 0 },
      version: '3.4.23',
      leader: '16045690984833335023',
      raftIndex: 99,
      raftTerm: 0,
      raftAppliedIndex: 0,
    });
  });
});
