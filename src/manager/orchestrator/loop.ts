/**
 * The plumbing every orchestration loop shares: what it is built from, a queue of work keys that
 * runs one pass at a time, and writes split into transactions of bounded size.
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { NotLeaderError, StoreConflictError, type Store, type WriteTx } from '../../store/types.js';

export interface LoopDeps {
  store: Store;
  logger: Logger;
  /** Monotonic time for timers (restart delays, update delays, monitoring). */
  clock: Clock;
  /** Wall clock in ms, for timestamps written into objects and compared with workers' ones. */
  now?: () => number;
}

/** Tasks written per transaction when a pass touches many (a service of 100,000 replicas). */
export const TASKS_PER_TRANSACTION = 500;

/**
 * Work keys (service ids, node ids, ...) collected from store events and handled in passes, one
 * pass at a time: a pass awaits its writes before the next one reads, because reads lag
 * proposals. Keys added during a pass wait for the next one; a key is handled once per pass however
 * many events named it. Keys whose write conflicted are queued again.
 */
export class PassQueue<K> {
  private readonly pending = new Set<K>();
  private running = false;
  private scheduled = false;
  private active = false;

  /** `pass` handles all the keys at once; if it fails with a conflict, all of them are retried. */
  constructor(
    private readonly name: string,
    private readonly logger: Logger,
    private readonly pass: (keys: K[]) => Promise<void>,
  ) {}

  /**
   * A queue whose keys are independent (a service, a node): their writes go out together, and a
   * failure affects only its own key. Two keys touching the same task conflict on its version,
   * and the loser is retried on the next pass.
   */
  static perKey<K>(name: string, logger: Logger, handle: (key: K) => Promise<void>): PassQueue<K> {
    const queue: PassQueue<K> = new PassQueue(name, logger, async (keys) => {
      await Promise.all(
        keys.map(async (key) => {
          try {
            await handle(key);
          } catch (err) {
            if (queue.shouldRetry(err)) queue.add(key);
          }
        }),
      );
    });
    return queue;
  }

  start(): void {
    this.active = true;
    this.schedule();
  }

  /** Drops queued keys; a pass in flight finishes its writes and nothing follows it. */
  stop(): void {
    this.active = false;
    this.pending.clear();
  }

  add(key: K): void {
    if (!this.active) return;
    this.pending.add(key);
    this.schedule();
  }

  /** True when nothing is queued or running. */
  idle(): boolean {
    return !this.running && !this.scheduled && this.pending.size === 0;
  }

  private schedule(): void {
    if (!this.active || this.running || this.scheduled || this.pending.size === 0) return;
    this.scheduled = true;
    // setImmediate rather than a microtask: events of several applied entries coalesce into one pass.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (!this.active || this.running) return;
    this.running = true;
    const keys = [...this.pending];
    this.pending.clear();
    try {
      await this.pass(keys);
    } catch (err) {
      if (this.shouldRetry(err)) for (const key of keys) this.add(key);
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private shouldRetry(err: unknown): boolean {
    if (err instanceof StoreConflictError) {
      // Someone wrote what this pass read; the next pass re-reads and decides again.
      this.logger.debug({ loop: this.name, err: err.message }, 'store conflict; retrying');
      return true;
    }
    if (err instanceof NotLeaderError) {
      // Leadership is gone; the manager stops the loops. Nothing to retry here.
      this.logger.debug({ loop: this.name }, 'not the leader any more');
      return false;
    }
    this.logger.error({ loop: this.name, err }, 'orchestration pass failed');
    return false;
  }
}

/**
 * Writes `items` in transactions of at most `size`, proposed together (the store packs them into
 * few Raft entries) and awaited together. Rejects with the first failure once all have settled.
 */
export async function writeChunks<T>(
  store: Store,
  items: readonly T[],
  write: (tx: WriteTx, chunk: readonly T[]) => void,
  size = TASKS_PER_TRANSACTION,
): Promise<void> {
  const writes: Promise<void>[] = [];
  for (let i = 0; i < items.length; i += size) {
    const chunk = items.slice(i, i + size);
    writes.push(store.update((tx) => write(tx, chunk)));
  }
  const results = await Promise.allSettled(writes);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
