/**
 * The Store every manager loop uses: reads from the local applied state, writes as transactions
 * proposed through a Proposer (Raft in production) in batches, watches fed by the FSM.
 */
import { ProposalBatcher, type BatcherOptions } from './batcher.js';
import type { StoreFsm } from './fsm.js';
import { encodeProposal } from './proposal.js';
import { WriteTransaction } from './write-tx.js';
import { StoreConflictError, type Proposer, type ReadTx, type Store, type StoreWatcher, type WriteTx } from './types.js';

export interface ReplicatedStoreOptions {
  /** The state machine Raft applies entries to; reads and watches come from it. */
  fsm: StoreFsm;
  proposer: Proposer;
  /** Wall clock for createdAt/updatedAt, read when update() is called; default Date.now. */
  now?: () => number;
  batching?: BatcherOptions;
}

export class ReplicatedStore implements Store {
  readonly fsm: StoreFsm;
  private readonly now: () => number;
  private readonly batcher: ProposalBatcher;

  constructor(opts: ReplicatedStoreOptions) {
    this.fsm = opts.fsm;
    this.now = opts.now ?? Date.now;
    this.batcher = new ProposalBatcher(opts.proposer, opts.batching, (data, transactions) => this.fsm.expectLocal(data, transactions));
  }

  view<T>(fn: (tx: ReadTx) => T): T {
    return fn(this.fsm.reader);
  }

  async update<T>(fn: (tx: WriteTx) => T): Promise<T> {
    const timestamp = this.now();
    const tx = new WriteTransaction(this.fsm.current);
    let result: T;
    try {
      result = fn(tx);
    } catch (err) {
      tx.finish();
      throw err;
    }
    const changes = tx.finish();
    if (changes.length === 0) return result;
    // Encoded now, while the writer's objects are as the function left them.
    const { bytes, copy } = encodeProposal(changes, timestamp, this.fsm.current);
    const refused = await this.batcher.submit(bytes, copy);
    if (refused !== null) throw new StoreConflictError(refused);
    return result;
  }

  watch(watcher: StoreWatcher): () => void {
    return this.fsm.watch(watcher);
  }

  onRestore(listener: () => void): () => void {
    return this.fsm.onRestore(listener);
  }

  appliedIndex(): number {
    return this.fsm.appliedIndex();
  }
}
