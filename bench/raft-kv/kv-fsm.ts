/**
 * The replicated state machine of bench/raft-kv: applies committed Put/DeleteRange commands to the
 * keyspace in log order and records which client address each elected leader announced. Reads do not
 * go through the log; the server reads the keyspace directly once Raft says it is safe to.
 */
import type { FSM } from '../../src/raft/fsm.js';
import type { Entry } from '../../src/raft/types.js';
import { decodeCommand } from './commands.js';
import { Keyspace, keyRange, keyString, type StoredKv } from './keyspace.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.js';

/** What applying one command produced; the leader turns it into the etcd response. */
export type ApplyResult =
  | { kind: 'put'; revision: number; prev: StoredKv | undefined }
  | { kind: 'deleteRange'; revision: number; deleted: StoredKv[] }
  | { kind: 'keyNotFound'; revision: number }
  | { kind: 'announced' };

export class KvFsm implements FSM {
  readonly keyspace = new Keyspace();
  /** Server id -> client address, as announced by each server when it became leader. */
  private readonly clientAddresses = new Map<string, string>();

  apply(entry: Entry): ApplyResult {
    const command = decodeCommand(entry.data);
    switch (command.kind) {
      case 'put': {
        const { key, value, ignoreValue, ignoreLease } = command.request;
        const k = keyString(key);
        const prev = this.keyspace.get(k);
        // etcd refuses to keep the value or lease of a key that does not exist.
        if ((ignoreValue || ignoreLease) && !prev) return { kind: 'keyNotFound', revision: this.keyspace.revision };
        const { kv } = this.keyspace.put(k, ignoreValue ? prev!.value : value);
        return { kind: 'put', revision: kv.modRevision, prev };
      }
      case 'deleteRange': {
        const deleted = this.keyspace.deleteRange(keyRange(command.request.key, command.request.rangeEnd));
        return { kind: 'deleteRange', revision: this.keyspace.revision, deleted };
      }
      case 'announce':
        this.clientAddresses.set(command.announcement.id, command.announcement.clientAddress);
        return { kind: 'announced' };
    }
  }

  clientAddressOf(id: string): string | undefined {
    return this.clientAddresses.get(id);
  }

  snapshot(): Uint8Array {
    return encodeSnapshot({
      members: this.clientAddresses,
      revision: this.keyspace.revision,
      kvs: this.keyspace.all(),
    });
  }

  restore(data: Uint8Array): void {
    const content = decodeSnapshot(data);
    this.clientAddresses.clear();
    for (const [id, address] of content.members) this.clientAddresses.set(id, address);
    this.keyspace.reset(content.revision, content.kvs);
  }
}
