/**
 * etcd identifies members and clusters by uint64; raft-kv derives them from server ids with FNV-1a,
 * cut to 52 bits so they stay exact in a JavaScript number. etcdctl shows them in hex and compares a
 * member's id with the leader id it reports, which is how `endpoint status` marks the leader.
 */
export function memberId(serverId: string): number {
  return fnv1a52(serverId);
}

/** The cluster id: the same on every member because it hashes the sorted member ids. */
export function clusterId(serverIds: string[]): number {
  return fnv1a52([...serverIds].sort().join(','));
}

function fnv1a52(text: string): number {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return Number(hash & 0xfffffffffffffn);
}
