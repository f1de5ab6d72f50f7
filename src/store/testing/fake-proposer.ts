/**
 * A stand-in for Raft in unit tests (a fake: no log, no peers, no disk). Each proposal takes the
 * next index and is applied to the FSM on a later turn of the event loop, in order, as a real
 * single-manager cluster would. Tests can make it refuse proposals (a manager that lost
 * leadership) or hold them (to interleave transactions deliberately).
 */
import { EntryType } from '../../raft/types.js';
import type { FSM } from '../../raft/fsm.js';
import type { Proposer } from '../types.js';

interface Held {
  data: Uint8Array;
  resolve(value: { index: number; response: unknown }): void;
  reject(err: unknown): void;
}

export class FakeProposer implements Proposer {
  /** Index of the last proposal applied. */
  lastIndex = 0;
  /** Every proposal made, in order (refused ones included). */
  readonly proposals: Uint8Array[] = [];
  private refusal: Error | undefined;
  private holding = false;
  private held: Held[] = [];

  constructor(private readonly fsm: FSM) {}

  propose(data: Uint8Array): Promise<{ index: number; response: unknown }> {
    this.proposals.push(data);
    if (this.refusal !== undefined) return Promise.reject(this.refusal);
    return new Promise((resolve, reject) => {
      this.held.push({ data, resolve, reject });
      if (!this.holding) this.releaseSoon();
    });
  }

  /** Every later proposal rejects with `err` (e.g. a NotLeaderError) until `accept()`. */
  refuse(err: Error): void {
    this.refusal = err;
  }

  accept(): void {
    this.refusal = undefined;
  }

  /** Keeps proposals unapplied until `release()`. */
  hold(): void {
    this.holding = true;
  }

  /** Applies every held proposal, in order, on the next turn of the event loop. */
  release(): void {
    this.holding = false;
    this.releaseSoon();
  }

  private releaseSoon(): void {
    setImmediate(() => {
      if (this.holding) return;
      const held = this.held;
      this.held = [];
      for (const h of held) this.applyOne(h);
    });
  }

  private applyOne(h: Held): void {
    const index = ++this.lastIndex;
    let response: unknown;
    try {
      response = this.fsm.apply({ index, term: 1, type: EntryType.Command, data: h.data });
    } catch (err) {
      h.reject(err);
      return;
    }
    h.resolve({ index, response });
  }
}
