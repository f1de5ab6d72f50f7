import type { Entry } from '../types.js';
import { contentOf } from './fingerprint.js';
import type { ServerView } from './server-view.js';
import { violation } from './violation.js';

interface LogRecord {
  content: string;
  /** Term of the entry before it, when it was seen with its predecessor. */
  prevTerm: number | undefined;
}

interface CommittedEntry {
  term: number;
  content: string;
  /** Term of the first server seen to count it committed: leaders of later terms must hold it. */
  commitTerm: number;
}

/**
 * Log matching, commitment and leader completeness, checked incrementally.
 *
 * Log matching: every (index, term) pair ever seen on any server is recorded with its content and
 * its predecessor's term. Equal content at equal (index, term), and an equal predecessor term, imply
 * by induction that two logs sharing an (index, term) share the whole prefix. Each event only
 * rescans a server's entries above what it had committed, which is where legitimate changes happen.
 *
 * Commitment: the first time any server counts an index committed, the entry there is recorded;
 * any server that later counts that index committed must hold the same entry.
 *
 * Leader completeness: a leader of term T must hold the newest entry committed in a term before T.
 */
export class LogSafety {
  private readonly seen = new Map<string, LogRecord>();
  private readonly committed = new Map<number, CommittedEntry>();
  private maxCommitted = 0;
  /** First index committed in each successive commit term, for the completeness check. */
  private readonly commitTermStarts: { commitTerm: number; firstIndex: number }[] = [];
  /** Per server incarnation: its commit index at the previous check, and the entry objects already
   *  checked above it (the core's entries are immutable, so an unchanged object needs no rescan). */
  private readonly servers = new Map<string, { commit: number; checked: Map<number, Entry> }>();

  check(view: ServerView): void {
    const key = `${view.id}#${view.incarnation}`;
    let server = this.servers.get(key);
    if (server === undefined) this.servers.set(key, (server = { commit: 0, checked: new Map() }));
    const before = server.commit;
    const s = view.status;
    this.checkLogMatching(view, Math.min(before, s.commitIndex) + 1, server.checked);
    this.checkCommitted(view, before);
    server.commit = Math.max(before, s.commitIndex);
    for (let i = before; i <= Math.min(server.commit, s.lastIndex) - 1; i++) server.checked.delete(i);
    if (s.role === 'leader') this.checkLeaderCompleteness(view);
  }

  /** A crashed incarnation is never looked at again. */
  forget(server: string, incarnation: number): void {
    this.servers.delete(`${server}#${incarnation}`);
  }

  /** The entry every server must hold at `index`, if some server committed it while holding it. */
  committedAt(index: number): { term: number; content: string } | undefined {
    return this.committed.get(index);
  }

  private checkLogMatching(view: ServerView, from: number, checked: Map<number, Entry>): void {
    const s = view.status;
    for (let i = Math.max(from, s.firstIndex, 1); i <= s.lastIndex; i++) {
      const e = view.entry(i);
      if (e === undefined || checked.get(i) === e) continue;
      checked.set(i, e);
      const prevTerm = i - 1 === s.snapshotIndex ? s.snapshotTerm : view.entry(i - 1)?.term;
      const content = contentOf(e);
      const key = `${i}:${e.term}`;
      const record = this.seen.get(key);
      if (record === undefined) {
        this.seen.set(key, { content, prevTerm });
        continue;
      }
      if (record.content !== content) {
        throw violation('log matching', `${view.id} holds a different entry at index ${i} term ${e.term} than another server did`);
      }
      if (prevTerm === undefined) continue;
      if (record.prevTerm === undefined) record.prevTerm = prevTerm;
      else if (record.prevTerm !== prevTerm) {
        throw violation(
          'log matching',
          `${view.id} has index ${i} term ${e.term} after term ${prevTerm}; another server had it after term ${record.prevTerm}`,
        );
      }
    }
  }

  private checkCommitted(view: ServerView, before: number): void {
    const s = view.status;
    for (let i = Math.max(before + 1, s.firstIndex, 1); i <= s.commitIndex; i++) {
      const e = view.entry(i);
      if (e === undefined) continue;
      const content = contentOf(e);
      const known = this.committed.get(i);
      if (known === undefined) {
        if (i > this.maxCommitted) this.record(i, { term: e.term, content, commitTerm: s.term });
        continue;
      }
      if (known.term !== e.term || known.content !== content) {
        throw violation(
          'committed entry changed',
          `${view.id} counts index ${i} committed with term ${e.term}, but term ${known.term} was committed there before`,
        );
      }
    }
    this.maxCommitted = Math.max(this.maxCommitted, s.commitIndex);
  }

  private record(index: number, entry: CommittedEntry): void {
    this.committed.set(index, entry);
    const last = this.commitTermStarts.at(-1);
    if (last === undefined || entry.commitTerm > last.commitTerm) {
      this.commitTermStarts.push({ commitTerm: entry.commitTerm, firstIndex: index });
    }
  }

  private checkLeaderCompleteness(view: ServerView): void {
    const s = view.status;
    let index = this.maxCommitted;
    for (let k = this.commitTermStarts.length - 1; k >= 0 && this.commitTermStarts[k].commitTerm >= s.term; k--) {
      index = this.commitTermStarts[k].firstIndex - 1;
    }
    const required = this.committed.get(index);
    if (index <= s.snapshotIndex || required === undefined) return;
    const held = view.entry(index);
    if (held === undefined || held.term !== required.term || contentOf(held) !== required.content) {
      throw violation(
        'leader completeness',
        `${view.id}, leader in term ${s.term}, lacks index ${index} (term ${required.term}) committed in term ${required.commitTerm}`,
      );
    }
  }
}
