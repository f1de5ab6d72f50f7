/**
 * Groups transactions proposed in the same turn of the event loop into one StoreBatch Raft entry,
 * so a burst of small writes costs one log append and one fsync. A batch is flushed on
 * setImmediate, or at once when the next transaction would take it past `maxBytes` (a single
 * transaction larger than that still goes, alone). Each transaction learns its own outcome.
 */
import protobuf from 'protobufjs/minimal.js';
import type { StoreTransaction } from '../../proto/gen/store.js';
import type { BatchOutcome, LocalTransaction } from './fsm.js';
import type { Proposer } from './types.js';

/** Default bound on one entry: matches the Raft transport's per-message bound. */
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;

interface Waiting {
  /** Settles with null (applied) or the reason the transaction was refused. */
  resolve(outcome: string | null): void;
  reject(err: unknown): void;
}

export interface BatcherOptions {
  maxBytes?: number;
  /** Runs the flush after the current turn of the event loop; default setImmediate. */
  defer?: (fn: () => void) => void;
}

export class ProposalBatcher {
  private readonly maxBytes: number;
  private readonly defer: (fn: () => void) => void;
  private writer = protobuf.Writer.create();
  private waiting: Waiting[] = [];
  private local: LocalTransaction[] = [];
  private bytes = 0;
  private scheduled = false;

  /**
   * `expectLocal` is told, before each proposal, the entry's bytes and the already-decoded copy of
   * each of its transactions that has one (the FSM uses them if that entry applies here).
   */
  constructor(
    private readonly proposer: Proposer,
    opts: BatcherOptions = {},
    private readonly expectLocal?: (data: Uint8Array, transactions: LocalTransaction[]) => void,
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.defer = opts.defer ?? ((fn) => setImmediate(fn));
  }

  /**
   * Queues one encoded StoreTransaction (with, if known, exactly what decoding it gives); resolves
   * with null once applied, or the reason it was refused.
   */
  submit(transaction: Uint8Array, copy?: StoreTransaction): Promise<string | null> {
    // Field 1 (transactions), length-delimited: the bytes a StoreBatch encoder would write for it.
    const framed = 1 + varintSize(transaction.length) + transaction.length;
    if (this.waiting.length > 0 && this.bytes + framed > this.maxBytes) this.flush();
    const promise = new Promise<string | null>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.writer.uint32(10).bytes(transaction);
    this.local.push({ bytes: transaction, copy });
    this.bytes += framed;
    if (this.bytes >= this.maxBytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      this.defer(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return promise;
  }

  private flush(): void {
    if (this.waiting.length === 0) return;
    const waiting = this.waiting;
    const local = this.local;
    const data = this.writer.finish();
    this.waiting = [];
    this.local = [];
    this.writer = protobuf.Writer.create();
    this.bytes = 0;
    if (local.some((t) => t.copy !== undefined)) this.expectLocal?.(data, local);
    let proposal: Promise<{ index: number; response: unknown }>;
    try {
      proposal = this.proposer.propose(data);
    } catch (err) {
      for (const w of waiting) w.reject(err);
      return;
    }
    proposal.then(
      ({ index, response }) => settle(waiting, index, response),
      (err: unknown) => {
        for (const w of waiting) w.reject(err);
      },
    );
  }
}

function settle(waiting: Waiting[], index: number, response: unknown): void {
  if (!isBatchOutcome(response) || response.length !== waiting.length) {
    const err = new Error(`store: entry ${index} applied with an unexpected response (is the store the Raft FSM?)`);
    for (const w of waiting) w.reject(err);
    return;
  }
  waiting.forEach((w, i) => w.resolve(response[i]));
}

function isBatchOutcome(response: unknown): response is BatchOutcome {
  return Array.isArray(response) && response.every((r) => r === null || typeof r === 'string');
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}
