/**
 * The store's Raft state machine. Every manager applies the same entries in the same order, and
 * everything `apply` does depends only on the entry and the state before it (timestamps travel in
 * the entry), so every manager holds the same objects, versions and indexes.
 *
 * An entry is a StoreBatch; each transaction in it applies all-or-nothing, independently of the
 * others: it is checked completely (existence, versions, service names) before anything changes.
 */
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import type { Service } from '../../proto/gen/objects.js';
import { ChangeKind, StoreBatch, StoreSnapshot, StoreTransaction } from '../../proto/gen/store.js';
import type { FSM } from '../raft/fsm.js';
import type { Entry } from '../raft/types.js';
import { serviceName } from './indexes.js';
import { fromStoreObject, toStoreObject, type KindedObject } from './kinds.js';
import { StoreState } from './state.js';
import type { ObjectKind, ReadTx, StoreEvent, StoreObject, StoreWatcher } from './types.js';

/**
 * What `apply` returns (the Raft future's response): one outcome per transaction, in order.
 * null means applied; a string says why the transaction was refused (a conflict).
 */
export type BatchOutcome = (string | null)[];

/** One transaction of an entry this manager proposed: its bytes, and what decoding them gives if already known. */
export interface LocalTransaction {
  bytes: Uint8Array;
  copy: StoreTransaction | undefined;
}

/** A change that passed the checks, with the object it replaces or deletes. */
interface PlannedChange {
  kind: ChangeKind;
  entry: KindedObject;
  previous: StoreObject | undefined;
}

export class StoreFsm implements FSM {
  private state = new StoreState();
  private lastApplied = 0;
  private readonly watchers = new Set<StoreWatcher>();
  private readonly restoreListeners = new Set<() => void>();
  /**
   * Entries this manager proposed, by their bytes (Raft hands the same array back when the entry
   * applies here; a copy read back from disk or sent by a leader is another array, and is decoded).
   */
  private readonly localEntries = new WeakMap<Uint8Array, LocalTransaction[]>();
  private readonly logger: Logger;

  constructor(opts: { logger?: Logger } = {}) {
    this.logger = opts.logger ?? silentLogger;
  }

  /** The applied state. Replaced wholesale by restore(), so never hold on to it. */
  get current(): StoreState {
    return this.state;
  }

  get reader(): ReadTx {
    return this.state.reader;
  }

  /** The Raft index of the last store entry applied (after a restore: the snapshot's). */
  appliedIndex(): number {
    return this.lastApplied;
  }

  watch(watcher: StoreWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  onRestore(listener: () => void): () => void {
    this.restoreListeners.add(listener);
    return () => this.restoreListeners.delete(listener);
  }

  /**
   * The proposer's promise about an entry it is about to propose: `transactions` are the entry's,
   * in order, each with exactly what decoding it gives where that is known (proposal.ts). If
   * the entry applies here, those copies are applied instead of decoding it again. Each copy is
   * used once: applying stamps it.
   */
  expectLocal(data: Uint8Array, transactions: LocalTransaction[]): void {
    this.localEntries.set(data, transactions);
  }

  apply(entry: Entry): BatchOutcome {
    const transactions = this.transactionsOf(entry);
    const outcomes = transactions.map((tx) => this.applyTransaction(tx, entry.index));
    this.lastApplied = entry.index;
    return outcomes;
  }

  private transactionsOf(entry: Entry): StoreTransaction[] {
    const local = this.localEntries.get(entry.data);
    if (local !== undefined) this.localEntries.delete(entry.data);
    try {
      return local === undefined
        ? StoreBatch.decode(entry.data).transactions
        : local.map((t) => t.copy ?? StoreTransaction.decode(t.bytes));
    } catch (err) {
      // Thrown on: the Raft node fail-stops rather than diverge from managers that could read it.
      throw new Error(`store: raft entry ${entry.index} is not a StoreBatch: ${(err as Error).message}`);
    }
  }

  snapshot(): Uint8Array {
    const objects = [];
    for (const o of this.state.objects()) objects.push(toStoreObject(o));
    return StoreSnapshot.encode({ objects, appliedIndex: this.lastApplied }).finish();
  }

  restore(data: Uint8Array): void {
    const snapshot = StoreSnapshot.decode(data);
    const state = new StoreState();
    for (const so of snapshot.objects) {
      const entry = fromStoreObject(so);
      if (entry === undefined) throw new Error('store: snapshot holds an object of no known kind');
      state.put(entry, undefined);
    }
    this.state = state;
    this.lastApplied = snapshot.appliedIndex;
    for (const listener of [...this.restoreListeners]) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ err }, 'store restore listener threw');
      }
    }
  }

  private applyTransaction(tx: StoreTransaction, index: number): string | null {
    const planned = this.check(tx);
    if (typeof planned === 'string') return planned;
    // Events are only built for someone to hear them (followers in a benchmark have no watchers).
    const events: StoreEvent[] | undefined = this.watchers.size > 0 ? [] : undefined;
    for (const { kind, entry, previous } of planned) {
      const object = entry.object;
      if (kind === ChangeKind.CHANGE_KIND_DELETE) {
        this.state.remove({ kind: entry.kind, object: previous } as KindedObject);
        events?.push({ action: 'delete', kind: entry.kind, object: previous } as StoreEvent);
        continue;
      }
      const createdAt = previous === undefined ? tx.timestamp : (previous.meta?.createdAt ?? 0);
      object.meta = { id: object.meta?.id ?? '', version: index, createdAt, updatedAt: tx.timestamp };
      this.state.put(entry, previous);
      events?.push(
        (previous === undefined
          ? { action: 'create', kind: entry.kind, object }
          : { action: 'update', kind: entry.kind, object, old: previous }) as StoreEvent,
      );
    }
    if (events !== undefined) this.notify(events);
    return null;
  }

  /** Every check, before anything changes: the changes to make, or why the transaction is refused. */
  private check(tx: StoreTransaction): PlannedChange[] | string {
    const planned: PlannedChange[] = [];
    const seen = new Map<ObjectKind, Set<string>>();
    for (const change of tx.changes) {
      const entry = fromStoreObject(change.object);
      const id = entry?.object.meta?.id ?? '';
      if (entry === undefined || id === '') return this.malformed('a change without an object id');
      let ids = seen.get(entry.kind);
      if (ids === undefined) seen.set(entry.kind, (ids = new Set()));
      if (ids.has(id)) return this.malformed(`${entry.kind} ${id} changed twice in one transaction`);
      ids.add(id);
      const previous = this.state.get(entry.kind, id);
      switch (change.kind) {
        case ChangeKind.CHANGE_KIND_CREATE:
          if (previous !== undefined) return `${entry.kind} ${id} already exists`;
          break;
        case ChangeKind.CHANGE_KIND_UPDATE:
        case ChangeKind.CHANGE_KIND_DELETE: {
          if (previous === undefined) return `${entry.kind} ${id} does not exist`;
          const have = previous.meta?.version ?? 0;
          const named = entry.object.meta?.version ?? 0;
          if (have !== named) return `${entry.kind} ${id} is at version ${have}, not ${named}`;
          break;
        }
        default:
          return this.malformed(`unknown change kind ${change.kind}`);
      }
      planned.push({ kind: change.kind, entry, previous });
    }
    return this.checkServiceNames(planned) ?? planned;
  }

  /** Names must stay unique once the whole transaction applied (so two services may swap names). */
  private checkServiceNames(planned: PlannedChange[]): string | undefined {
    const touched = new Set<string>();
    const claims = new Map<string, string>();
    for (const p of planned) {
      if (p.entry.kind !== 'service') continue;
      const id = p.entry.object.meta?.id ?? '';
      touched.add(id);
      if (p.kind === ChangeKind.CHANGE_KIND_DELETE) continue;
      const name = serviceName(p.entry.object);
      if (name === '') continue;
      if (claims.has(name)) return `service name "${name}" is claimed twice in one transaction`;
      claims.set(name, id);
    }
    for (const [name, id] of claims) {
      const owner: Service | undefined = this.state.serviceNames.get(name);
      const ownerId = owner?.meta?.id ?? '';
      // An owner this transaction also changes gives the name up (or claims it again, caught above).
      if (owner !== undefined && ownerId !== id && !touched.has(ownerId)) {
        return `service name "${name}" is already taken by service ${ownerId}`;
      }
    }
    return undefined;
  }

  /** Refuses a transaction no store would have proposed: deterministic on every manager, but loud. */
  private malformed(why: string): string {
    this.logger.error({ why }, 'store: refusing a malformed transaction');
    return `malformed transaction: ${why}`;
  }

  private notify(events: StoreEvent[]): void {
    if (events.length === 0) return;
    for (const watcher of [...this.watchers]) {
      try {
        watcher(events);
      } catch (err) {
        this.logger.error({ err }, 'store watcher threw');
      }
    }
  }
}
