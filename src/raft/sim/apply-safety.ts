import type { Entry } from '../types.js';
import { contentOf } from './fingerprint.js';
import { violation } from './violation.js';

/**
 * State machine safety: no two servers ever apply different entries at the same index, and each
 * state machine applies in strictly increasing index order. Also remembers which index every
 * acknowledged write was applied at, for the check that acknowledged writes are never lost.
 */
export class ApplySafety {
  private readonly applied = new Map<number, string>();
  /** Acknowledged writes: index -> the command the client sent, awaiting confirmation. */
  private readonly acked = new Map<number, { content: string; opId: number }>();

  onApply(server: string, entry: Entry, previouslyApplied: number): void {
    if (entry.index <= previouslyApplied) {
      throw violation('apply order', `${server} applied index ${entry.index} after index ${previouslyApplied}`);
    }
    const fingerprint = `${entry.term}:${contentOf(entry)}`;
    const known = this.applied.get(entry.index);
    if (known === undefined) this.applied.set(entry.index, fingerprint);
    else if (known !== fingerprint) {
      throw violation('state machine safety', `${server} applied a different entry at index ${entry.index} than another server`);
    }
  }

  /** A client was told its write was applied at `index`: the entry there must be its command. */
  onAcknowledgedWrite(opId: number, index: number, command: Uint8Array): void {
    const content = contentOf({ type: 0, data: command });
    const known = this.applied.get(index);
    if (known === undefined || !known.endsWith(`:${content}`)) {
      throw violation('acknowledged write', `op ${opId} was acknowledged at index ${index}, which holds another entry`);
    }
    this.acked.set(index, { content, opId });
  }

  acknowledgedIndexes(): IterableIterator<[number, { content: string; opId: number }]> {
    return this.acked.entries();
  }

}
