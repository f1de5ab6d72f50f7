/**
 * The binary layout of a raft-kv snapshot: the member directory, the store revision and every key.
 * Binary rather than JSON because a snapshot holds every value (megabytes at benchmark sizes) and is
 * taken on the event loop.
 *
 *   u32 members, then per member: u32 length + utf8 id, u32 length + utf8 client address
 *   f64 revision, u32 keys, then per key: u32 length + key bytes, u32 length + value bytes,
 *   f64 createRevision, f64 modRevision, f64 version
 */
import { keyBytes, keyString, type StoredKv } from './keyspace.js';

export interface SnapshotContent {
  members: Map<string, string>;
  revision: number;
  kvs: StoredKv[];
}

export function encodeSnapshot(content: SnapshotContent): Uint8Array {
  const members = [...content.members].map(([id, address]) => [Buffer.from(id), Buffer.from(address)] as const);
  let size = 4 + 8 + 4;
  for (const [id, address] of members) size += 8 + id.length + address.length;
  for (const kv of content.kvs) size += 8 + kv.key.length + kv.value.byteLength + 24;

  const out = Buffer.alloc(size);
  let at = 0;
  const bytes = (b: Uint8Array): void => {
    at = out.writeUInt32LE(b.byteLength, at);
    out.set(b, at);
    at += b.byteLength;
  };
  at = out.writeUInt32LE(members.length, at);
  for (const [id, address] of members) {
    bytes(id);
    bytes(address);
  }
  at = out.writeDoubleLE(content.revision, at);
  at = out.writeUInt32LE(content.kvs.length, at);
  for (const kv of content.kvs) {
    bytes(keyBytes(kv.key));
    bytes(kv.value);
    at = out.writeDoubleLE(kv.createRevision, at);
    at = out.writeDoubleLE(kv.modRevision, at);
    at = out.writeDoubleLE(kv.version, at);
  }
  return out;
}

export function decodeSnapshot(data: Uint8Array): SnapshotContent {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  const bytes = (): Buffer => {
    const length = buf.readUInt32LE(at);
    at += 4;
    // A copy, so restored values do not pin the whole snapshot buffer.
    const b = Buffer.from(buf.subarray(at, at + length));
    at += length;
    return b;
  };
  const double = (): number => {
    const v = buf.readDoubleLE(at);
    at += 8;
    return v;
  };
  const u32 = (): number => {
    const v = buf.readUInt32LE(at);
    at += 4;
    return v;
  };

  const members = new Map<string, string>();
  for (let n = u32(); n > 0; n--) {
    const id = bytes().toString();
    members.set(id, bytes().toString());
  }
  const revision = double();
  const kvs: StoredKv[] = [];
  for (let n = u32(); n > 0; n--) {
    const key = keyString(bytes());
    const value = bytes();
    kvs.push({ key, value, createRevision: double(), modRevision: double(), version: double() });
  }
  if (at !== buf.length) throw new Error(`raft-kv: snapshot has ${buf.length - at} trailing bytes`);
  return { members, revision, kvs };
}
