import type { KvOperation } from './linearizability.js';

/**
 * The clients' record of what they asked and what they were told, on the global virtual clock.
 * Outcomes follow the Raft API: success; certain failure (NotLeader: never applied), which leaves
 * no trace; or unknown (timeout, leadership lost, server crashed), which may or may not take effect.
 */
export class History {
  private readonly ops = new Map<number, KvOperation>();
  private readonly pending = new Set<number>();
  private nextId = 1;

  constructor(private readonly now: () => number) {}

  invoke(client: number, key: string, kind: 'put' | 'get', putValue?: string): number {
    const id = this.nextId++;
    this.ops.set(id, { id, client, key, kind, value: putValue, call: this.now(), ret: Infinity });
    this.pending.add(id);
    return id;
  }

  /** Completed: for a get, `readValue` is what it read. */
  succeeded(id: number, readValue?: string): void {
    const op = this.take(id);
    if (op === undefined) return;
    op.ret = this.now();
    if (op.kind === 'get') op.value = readValue;
  }

  /** Certainly not applied: removed from the history. */
  failed(id: number): void {
    if (this.take(id) !== undefined) this.ops.delete(id);
  }

  /** Outcome unknown: the operation stays open-ended. */
  indeterminate(id: number): void {
    this.take(id);
  }

  /** Every operation, pending ones as indeterminate. */
  operations(): KvOperation[] {
    return [...this.ops.values()];
  }

  get size(): number {
    return this.ops.size;
  }

  private take(id: number): KvOperation | undefined {
    if (!this.pending.delete(id)) return undefined;
    return this.ops.get(id);
  }
}
