/**
 * The commands bench/raft-kv replicates through Raft, and their encoding as log entry data: a one-byte
 * kind followed by the etcd request itself in protobuf (Put, DeleteRange) or a small JSON record
 * (Announce). Reusing the wire encoding keeps one definition of what a write carries.
 */
import { DeleteRangeRequest, PutRequest } from '../../proto/gen/etcd/etcdserverpb/rpc.js';

/** Tells every member at which client address a newly elected leader serves, so followers can forward to it. */
export interface Announcement {
  id: string;
  clientAddress: string;
}

export type Command =
  | { kind: 'put'; request: PutRequest }
  | { kind: 'deleteRange'; request: DeleteRangeRequest }
  | { kind: 'announce'; announcement: Announcement };

const enum Kind {
  Put = 1,
  DeleteRange = 2,
  Announce = 3,
}

export function encodeCommand(command: Command): Uint8Array {
  switch (command.kind) {
    case 'put':
      return withKind(Kind.Put, PutRequest.encode(command.request).finish());
    case 'deleteRange':
      return withKind(Kind.DeleteRange, DeleteRangeRequest.encode(command.request).finish());
    case 'announce':
      return withKind(Kind.Announce, new TextEncoder().encode(JSON.stringify(command.announcement)));
  }
}

export function decodeCommand(data: Uint8Array): Command {
  const body = data.subarray(1);
  switch (data[0]) {
    case Kind.Put:
      return { kind: 'put', request: PutRequest.decode(body) };
    case Kind.DeleteRange:
      return { kind: 'deleteRange', request: DeleteRangeRequest.decode(body) };
    case Kind.Announce:
      return { kind: 'announce', announcement: JSON.parse(new TextDecoder().decode(body)) as Announcement };
    default:
      throw new Error(`raft-kv: unknown command kind ${data[0]}`);
  }
}

function withKind(kind: Kind, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = kind;
  out.set(body, 1);
  return out;
}
