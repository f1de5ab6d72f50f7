/**
 * Quorum-loss recovery (`shoal manager --force-new-cluster`, in the spirit of etcd's and swarmkit's
 * flag and hashicorp/raft's RecoverCluster): rewrites one server's storage, before a RaftNode is
 * built on it, so that the server is the only voter of a new single-server configuration while its
 * log, snapshots and hence FSM state stay as they were.
 *
 * How: a Configuration entry naming only this server is appended at the end of the log, in a term
 * newer than any the server has seen. A server takes the newest configuration in its log whether or
 * not it was committed, so this entry supersedes whatever came before it: a configuration in a
 * snapshot (all the log may hold after compaction), in the log, or an uncommitted change in the log.
 * Started afterwards, the node is the only voter it knows, elects itself, and the Noop it appends as
 * leader commits everything below it.
 *
 * Everything below counts as committed, including entries this server had appended but the old
 * cluster never committed: like hashicorp/raft (and unlike etcd, which persists a commit index and
 * drops what lies beyond it), the stores keep no commit index, so there is nothing to tell the two
 * apart by. The server's whole log becomes the new cluster's history.
 *
 * Why a new term: the new entry must not share an (index, term) pair with an entry some other,
 * departed member may hold, or the log matching property would no longer hold across the old
 * servers' logs. The term and a vote for itself are made durable first, as if this server had won
 * that term's election, so that on disk the term never trails the log.
 *
 * The departed members must never come back with their old state: they still believe in the old
 * configuration and could elect a leader among themselves. They rejoin, if at all, as new servers
 * with empty storage.
 */
import type { Logger } from '../common/logger.js';
import { hardStateRecord, loadHardState, loadLogAfter } from './recovery.js';
import type { LogStore, SnapshotStore, StableStore } from './storage/types.js';
import {
  decodeConfiguration,
  encodeConfiguration,
  EntryType,
  RaftError,
  type Configuration,
  type Entry,
  type ServerAddress,
  type ServerId,
} from './types.js';

export interface ForceNewClusterOptions {
  logStore: LogStore;
  stableStore: StableStore;
  snapshotStore: SnapshotStore;
  /** This server: its id, and the address the new configuration records for it (its transport's address). */
  self: { id: ServerId; address: ServerAddress };
  logger?: Logger;
}

export interface ForceNewClusterResult {
  /** False when the newest configuration already named only `self`, as a voter at its address: nothing was written. */
  changed: boolean;
  /** The newest configuration before the rewrite; its servers other than `self` are members no more. */
  previous: Configuration;
}

/**
 * Makes `self` the only voter of the state in the given stores (see the module comment). Safe to
 * run again: a second run finds the single-server configuration in place and changes nothing.
 * Throws when the stores hold no log and no snapshot, since there is then no cluster to recover.
 */
export function forceNewCluster(opts: ForceNewClusterOptions): ForceNewClusterResult {
  const { logStore, stableStore, snapshotStore, self } = opts;
  if (self.id === '' || self.address === '') throw new RaftError('InvalidArgument', 'server id and address must not be empty');

  const hardState = loadHardState(stableStore);
  const snapshot = snapshotStore.list()[0];
  const snapshotIndex = snapshot?.index ?? 0;
  // The entries a RaftNode would load on top of the snapshot: the same rule, so the same view.
  const entries = loadLogAfter(logStore, snapshotIndex);
  const last = entries.at(-1) ?? (snapshot && { index: snapshot.index, term: snapshot.term });
  if (last === undefined) {
    throw new RaftError(
      'InvalidArgument',
      'no Raft log or snapshot to recover: forcing a new cluster needs the state of a former member (an empty state directory starts a cluster with --init)',
    );
  }

  const current = newestConfiguration(entries) ?? {
    index: snapshot?.configurationIndex ?? 0,
    configuration: snapshot?.configuration ?? { servers: [] },
  };
  if (isOnlyVoter(current.configuration, self)) {
    opts.logger?.info({ configurationIndex: current.index }, 'raft: already a single-server cluster; nothing to force');
    return { changed: false, previous: current.configuration };
  }

  const term = Math.max(hardState.term, last.term) + 1;
  const only: Configuration = { servers: [{ id: self.id, address: self.address, suffrage: 'voter' }] };
  const entry: Entry = { index: last.index + 1, term, type: EntryType.Configuration, data: encodeConfiguration(only) };
  stableStore.set(hardStateRecord({ term, vote: self.id }));
  // A log ending below the newest snapshot (a crash between storing a leader's snapshot and
  // resetting the log) is ignored by a starting node anyway; restart it after the snapshot.
  if (logStore.lastIndex() < last.index) logStore.reset(last.index);
  logStore.storeLogs([entry]);
  logStore.sync();
  opts.logger?.warn(
    { index: entry.index, term, removed: current.configuration.servers.filter((s) => s.id !== self.id).map((s) => s.id) },
    'raft: forced a new single-server cluster',
  );
  return { changed: true, previous: current.configuration };
}

function newestConfiguration(entries: Entry[]): { index: number; configuration: Configuration } | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (e.type === EntryType.Configuration) return { index: e.index, configuration: decodeConfiguration(e.data) };
  }
  return undefined;
}

function isOnlyVoter(c: Configuration, self: { id: ServerId; address: ServerAddress }): boolean {
  const [only] = c.servers;
  return c.servers.length === 1 && only.id === self.id && only.address === self.address && only.suffrage === 'voter';
}
