/**
 * The contract of shoal's replicated object store (src/store). Everything the managers' loops,
 * the control API and the dispatcher know about the store is here.
 *
 * - Reads run against the local, applied state: `store.view(tx => ...)` is synchronous and sees one
 *   consistent state (JavaScript runs it to completion; no write can interleave).
 * - Writes run on the Raft leader only: `store.update(tx => ...)` runs the function against the
 *   current state plus the transaction's own writes, then proposes the changes through Raft. The
 *   returned promise settles once the transaction is committed and applied on this manager, so a
 *   read after `await store.update(...)` sees it. Transactions proposed close together travel in
 *   one Raft entry, but each applies (or fails) on its own.
 * - Optimistic concurrency: an update or delete names, in `meta.version`, the version the writer
 *   read. If the stored object has moved on when the transaction applies, the whole transaction is
 *   rejected on every manager alike and the promise rejects with `StoreConflictError`.
 * - `meta.version` is the Raft index of the entry that last wrote the object; `createdAt` and
 *   `updatedAt` are the proposing leader's wall clock. The store sets all three; a writer's values
 *   for them are ignored (except `version` as the expected version, above).
 * - Watchers are called synchronously after every applied transaction, on every manager, with the
 *   changes it made in order. They must not block; a loop queues the work and returns.
 */
import type { Cluster, Config, Network, Node, Secret, Service, Task } from '../../proto/gen/objects.js';

export interface ObjectTypes {
  cluster: Cluster;
  node: Node;
  service: Service;
  task: Task;
  network: Network;
  secret: Secret;
  config: Config;
}

export type ObjectKind = keyof ObjectTypes;
export type StoreObject = ObjectTypes[ObjectKind];

/**
 * Read access to one table. Returned objects are the store's own (reads do not copy): never mutate
 * them; build a new object to write (e.g. `{ ...task, status: { ...task.status, state } }`). Index
 * queries return a new array each call, in no promised order.
 */
export interface TableReader<T> {
  get(id: string): T | undefined;
  all(): T[];
  count(): number;
}

export interface ServiceReader extends TableReader<Service> {
  /** The service named `name` (names are unique). */
  byName(name: string): Service | undefined;
}

export interface TaskReader extends TableReader<Task> {
  byService(serviceId: string): Task[];
  byNode(nodeId: string): Task[];
  /** Tasks of one replicated slot, every generation of it. */
  bySlot(serviceId: string, slot: number): Task[];
  /** Tasks not yet placed: observed state PENDING and desired state <= RUNNING (what the scheduler takes). */
  pending(): Task[];
}

export interface ReadTx {
  readonly clusters: TableReader<Cluster>;
  readonly nodes: TableReader<Node>;
  readonly services: ServiceReader;
  readonly tasks: TaskReader;
  readonly networks: TableReader<Network>;
  readonly secrets: TableReader<Secret>;
  readonly configs: TableReader<Config>;
}

/** Writes inside one transaction. Reads through the same object see the transaction's own writes. */
export interface TableWriter<T> {
  /** `meta.id` must be set and unused. Throws StoreConflictError at once if the id (or a service's name) is taken. */
  create(obj: T): void;
  /** `meta.version` must be the version read. */
  update(obj: T): void;
  /** `meta.version` must be the version read. */
  delete(obj: T): void;
}

export interface WriteTx extends ReadTx {
  readonly clusters: TableReader<Cluster> & TableWriter<Cluster>;
  readonly nodes: TableReader<Node> & TableWriter<Node>;
  readonly services: ServiceReader & TableWriter<Service>;
  readonly tasks: TaskReader & TableWriter<Task>;
  readonly networks: TableReader<Network> & TableWriter<Network>;
  readonly secrets: TableReader<Secret> & TableWriter<Secret>;
  readonly configs: TableReader<Config> & TableWriter<Config>;
}

/** One applied change. `old` is the object before the change (absent for creates). */
export type StoreEvent = {
  [K in ObjectKind]:
    | { action: 'create'; kind: K; object: ObjectTypes[K] }
    | { action: 'update'; kind: K; object: ObjectTypes[K]; old: ObjectTypes[K] }
    | { action: 'delete'; kind: K; object: ObjectTypes[K] };
}[ObjectKind];

export type StoreWatcher = (events: readonly StoreEvent[]) => void;

export interface Store {
  view<T>(fn: (tx: ReadTx) => T): T;
  /**
   * Runs `fn` (synchronously) and proposes what it wrote. Resolves with fn's result once applied
   * locally; a transaction that wrote nothing resolves at once without a proposal. Rejects with
   * StoreConflictError, NotLeaderError, or the Raft error that stopped the proposal.
   */
  update<T>(fn: (tx: WriteTx) => T): Promise<T>;
  /** Calls `watcher` after every applied transaction; returns the function that stops it. */
  watch(watcher: StoreWatcher): () => void;
  /**
   * Calls `listener` after the whole state was replaced from a Raft snapshot (a follower that fell
   * behind, or a restart). A restore fires no per-object events: anything that keeps state derived
   * from watch events must throw it away and rebuild it from a fresh view. Returns the function
   * that stops it.
   */
  onRestore(listener: () => void): () => void;
  /** The Raft index of the last applied entry (0 before any). */
  appliedIndex(): number;
}

/** How the store hands a batch to Raft; in production a RaftNode's apply(). */
export interface Proposer {
  propose(data: Uint8Array): Promise<{ index: number; response: unknown }>;
}

export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/** This manager is not the Raft leader; `leader` names the one it knows of, if any. */
export class NotLeaderError extends Error {
  constructor(
    message: string,
    readonly leader?: { id: string; address: string },
  ) {
    super(message);
    this.name = 'NotLeaderError';
  }
}
