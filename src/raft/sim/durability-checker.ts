import type { Message } from '../types.js';
import type { ServerView } from './server-view.js';
import { violation } from './violation.js';

interface Promised {
  /** Highest term the server showed anyone. */
  term: number;
  /** The vote it cast (or cast for itself) and showed anyone. */
  vote: { term: number; candidate: string } | undefined;
  /** The last log position it acknowledged to a leader as stored. */
  ackedLog: { index: number; term: number } | undefined;
}

/**
 * What a server told others must survive its crash: the term it is in, its vote in that term, and
 * the log entries it acknowledged. Promises are read off the messages it sends (pre-votes promise
 * nothing); after a restart the recovered state must keep every one of them.
 */
export class DurabilityChecker {
  private readonly promised = new Map<string, Promised>();

  onSend(server: string, msg: Message, entryTerm: (index: number) => number | undefined): void {
    if ((msg.type === 'RequestVote' || msg.type === 'RequestVoteResponse') && msg.preVote) return;
    const p = this.promisesOf(server);
    p.term = Math.max(p.term, msg.term);
    if (msg.type === 'RequestVote') p.vote = { term: msg.term, candidate: server };
    if (msg.type === 'RequestVoteResponse' && msg.granted) p.vote = { term: msg.term, candidate: msg.to };
    if (msg.type === 'AppendEntriesResponse' && msg.success && msg.matchIndex > 0) {
      const term = entryTerm(msg.matchIndex);
      // Below the server's snapshot the entry is no longer in memory; the snapshot itself is durable.
      if (term !== undefined) p.ackedLog = { index: msg.matchIndex, term };
    }
  }

  /** At a crash: an acknowledged entry since replaced by a newer leader's is no longer promised. */
  onCrash(view: ServerView): void {
    const p = this.promised.get(view.id);
    if (p?.ackedLog === undefined) return;
    const { index, term } = p.ackedLog;
    if (index > view.status.snapshotIndex && view.entry(index)?.term !== term) p.ackedLog = undefined;
  }

  /** After a restart: the recovered state must keep every promise. */
  onRestart(view: ServerView, durable: { term: number; vote: string }): void {
    const p = this.promised.get(view.id);
    if (p === undefined) return;
    if (durable.term < p.term) {
      throw violation('term durability', `${view.id} restarted in term ${durable.term} after showing term ${p.term}`);
    }
    if (p.vote !== undefined && p.vote.term === durable.term && durable.vote !== p.vote.candidate) {
      throw violation(
        'vote durability',
        `${view.id} voted for ${p.vote.candidate} in term ${p.vote.term} but restarted with vote '${durable.vote}'`,
      );
    }
    const acked = p.ackedLog;
    if (acked !== undefined && acked.index > view.status.snapshotIndex && view.entry(acked.index)?.term !== acked.term) {
      throw violation(
        'acknowledged log durability',
        `${view.id} acknowledged index ${acked.index} (term ${acked.term}) but restarted without it`,
      );
    }
  }

  /** A server rejoining with a wiped disk starts over, promising nothing. */
  forget(server: string): void {
    this.promised.delete(server);
  }

  private promisesOf(server: string): Promised {
    let p = this.promised.get(server);
    if (p === undefined) this.promised.set(server, (p = { term: 0, vote: undefined, ackedLog: undefined }));
    return p;
  }
}
