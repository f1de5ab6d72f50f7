/**
 * Reading a server's durable state back at startup (term and vote, the log after the newest
 * snapshot) and checking a configuration handed to bootstrapCluster. Kept apart from the driver so
 * the rules of what a consistent on-disk state is are in one place.
 */
import type { LogStore, StableStore } from './storage/types.js';
import type { Configuration, Entry, HardState } from './types.js';
import { RaftError } from './types.js';

/** StableStore keys, as hashicorp/raft names them in spirit: the current term and the vote cast in it. */
export const TERM_KEY = 'term';
export const VOTE_KEY = 'vote';

export function loadHardState(stable: StableStore): HardState {
  const rawTerm = stable.get(TERM_KEY) ?? '0';
  const term = Number(rawTerm);
  if (!Number.isSafeInteger(term) || term < 0) {
    throw new Error(`stable store holds a corrupt term: ${JSON.stringify(rawTerm)}`);
  }
  return { term, vote: stable.get(VOTE_KEY) ?? '' };
}

export function hardStateRecord(hs: HardState): Record<string, string> {
  return { [TERM_KEY]: String(hs.term), [VOTE_KEY]: hs.vote };
}

/** The stored entries after `snapshotIndex`; they must continue the snapshot without a gap. */
export function loadLogAfter(log: LogStore, snapshotIndex: number): Entry[] {
  const last = log.lastIndex();
  if (last <= snapshotIndex) return [];
  const first = Math.max(log.firstIndex(), snapshotIndex + 1);
  if (first > snapshotIndex + 1) {
    throw new Error(`log starts at index ${first} but the newest snapshot ends at ${snapshotIndex}: entries are missing`);
  }
  return log.getRange(first, last);
}

/** A bootstrap configuration needs at least one voter and unique, non-empty ids and addresses. */
export function validateBootstrapConfiguration(c: Configuration): void {
  if (!c.servers.some((s) => s.suffrage === 'voter')) {
    throw new RaftError('InvalidArgument', 'a bootstrap configuration needs at least one voter');
  }
  const ids = new Set<string>();
  const addresses = new Set<string>();
  for (const s of c.servers) {
    if (s.id === '' || s.address === '') throw new RaftError('InvalidArgument', 'server id and address must not be empty');
    if (ids.has(s.id)) throw new RaftError('InvalidArgument', `duplicate server id ${s.id}`);
    if (addresses.has(s.address)) throw new RaftError('InvalidArgument', `duplicate server address ${s.address}`);
    ids.add(s.id);
    addresses.add(s.address);
  }
}
