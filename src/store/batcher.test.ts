import { describe, expect, it } from 'vitest';
import { StoreBatch, StoreTransaction } from '../../proto/gen/store.js';
import { ProposalBatcher } from './batcher.js';
import type { Proposer } from './types.js';

function tx(timestamp: number): Uint8Array {
  return StoreTransaction.encode({ timestamp, changes: [] }).finish();
}

/** Answers every proposal with `respond(batch)`, remembering what was proposed. */
function proposer(respond: (batch: StoreBatch) => unknown): Proposer & { batches: StoreBatch[] } {
  const batches: StoreBatch[] = [];
  return {
    batches,
    propose: async (data) => {
      const batch = StoreBatch.decode(data);
      batches.push(batch);
      return { index: batches.length, response: respond(batch) };
    },
  };
}

describe('ProposalBatcher', () => {
  it('frames transactions exactly as a StoreBatch encoder would, and hands each its own outcome', async () => {
    const p = proposer((b) => b.transactions.map((t) => (t.timestamp === 2 ? 'refused' : null)));
    const batcher = new ProposalBatcher(p);
    const outcomes = await Promise.all([1, 2, 3].map((t) => batcher.submit(tx(t))));
    expect(outcomes).toEqual([null, 'refused', null]);
    expect(p.batches.map((b) => b.transactions.map((t) => t.timestamp))).toEqual([[1, 2, 3]]);
  });

  it('rejects every transaction of a batch the proposer refused', async () => {
    const batcher = new ProposalBatcher({ propose: () => Promise.reject(new Error('no quorum')) });
    const results = await Promise.allSettled([batcher.submit(tx(1)), batcher.submit(tx(2))]);
    expect(results.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual(['no quorum', 'no quorum']);
  });

  it('rejects when the proposer throws instead of returning a promise', async () => {
    const batcher = new ProposalBatcher({
      propose: () => {
        throw new Error('synchronous failure');
      },
    });
    await expect(batcher.submit(tx(1))).rejects.toThrow('synchronous failure');
  });

  it('rejects when the applied entry did not answer like the store FSM', async () => {
    const batcher = new ProposalBatcher(proposer(() => 'something else'));
    await expect(batcher.submit(tx(1))).rejects.toThrow(/unexpected response/);
  });

  it('starts a new batch rather than exceed the byte bound', async () => {
    const p = proposer((b) => b.transactions.map(() => null));
    const one = tx(1_000_000).length + 2;
    const batcher = new ProposalBatcher(p, { maxBytes: one * 2 });
    await Promise.all([1, 2, 3, 4, 5].map((i) => batcher.submit(tx(1_000_000 + i))));
    expect(p.batches.map((b) => b.transactions.length)).toEqual([2, 2, 1]);
  });
});
