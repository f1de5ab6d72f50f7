/**
 * A write transaction: the applied state seen through the transaction's own writes. Writes are
 * checked at once against that view (an id or service name taken, a stale version), so a doomed
 * transaction fails before it is proposed; the FSM checks again when the entry applies, because
 * other transactions may have committed in between.
 *
 * Each object the transaction touches ends up as at most one change (create then update is a
 * create of the final object; create then delete is nothing), in the order objects were first
 * touched.
 */
import type { Service, Task } from '../../proto/gen/objects.js';
import { ChangeKind, type StoreChange } from '../../proto/gen/store.js';
import { ServiceNameIndex, TaskIndexes, serviceName } from './indexes.js';
import { metaOnly, toStoreObject, type KindedObject } from './kinds.js';
import type { StoreState } from './state.js';
import {
  StoreConflictError,
  type ObjectKind,
  type ObjectTypes,
  type ServiceReader,
  type StoreObject,
  type TableReader,
  type TableWriter,
  type TaskReader,
  type WriteTx,
} from './types.js';

/** One object the transaction wrote: what the applied state had, and what the transaction leaves (null: deleted). */
interface Touched {
  kind: ObjectKind;
  base: StoreObject | undefined;
  current: StoreObject | null;
}

export class WriteTransaction implements WriteTx {
  readonly clusters: OverlayTable<'cluster'>;
  readonly nodes: OverlayTable<'node'>;
  readonly services: OverlayServices;
  readonly tasks: OverlayTasks;
  readonly networks: OverlayTable<'network'>;
  readonly secrets: OverlayTable<'secret'>;
  readonly configs: OverlayTable<'config'>;
  private readonly touched: Touched[] = [];
  private finished = false;

  constructor(state: StoreState) {
    const ctx: TxContext = {
      state,
      record: (t) => this.touched.push(t),
      guard: () => {
        if (this.finished) throw new Error('the transaction is finished: write only inside the update function');
      },
    };
    this.clusters = new OverlayTable(ctx, 'cluster');
    this.nodes = new OverlayTable(ctx, 'node');
    this.services = new OverlayServices(ctx);
    this.tasks = new OverlayTasks(ctx);
    this.networks = new OverlayTable(ctx, 'network');
    this.secrets = new OverlayTable(ctx, 'secret');
    this.configs = new OverlayTable(ctx, 'config');
  }

  /** Ends the transaction (later writes throw) and returns its changes, in first-touch order. */
  finish(): StoreChange[] {
    this.finished = true;
    const changes: StoreChange[] = [];
    for (const t of this.touched) {
      if (t.current !== null) {
        const kind = t.base === undefined ? ChangeKind.CHANGE_KIND_CREATE : ChangeKind.CHANGE_KIND_UPDATE;
        changes.push({ kind, object: toStoreObject({ kind: t.kind, object: t.current } as KindedObject) });
      } else if (t.base !== undefined) {
        const meta = { id: t.base.meta?.id ?? '', version: t.base.meta?.version ?? 0, createdAt: 0, updatedAt: 0 };
        changes.push({ kind: ChangeKind.CHANGE_KIND_DELETE, object: toStoreObject(metaOnly(t.kind, meta)) });
      }
    }
    return changes;
  }
}

interface TxContext {
  state: StoreState;
  /** Records an object's first write in this transaction. */
  record(t: Touched): void;
  /** Throws if the transaction is finished. */
  guard(): void;
}

function idOf(obj: StoreObject, kind: ObjectKind, op: string): string {
  const id = obj.meta?.id ?? '';
  if (id === '') throw new Error(`${op} ${kind}: meta.id is required`);
  return id;
}

class OverlayTable<K extends ObjectKind> implements TableReader<ObjectTypes[K]>, TableWriter<ObjectTypes[K]> {
  protected readonly base: Map<string, ObjectTypes[K]>;
  protected readonly overlay = new Map<string, Touched>();

  constructor(
    private readonly ctx: TxContext,
    protected readonly kind: K,
  ) {
    this.base = ctx.state.table(kind);
  }

  get(id: string): ObjectTypes[K] | undefined {
    const t = this.overlay.get(id);
    if (t === undefined) return this.base.get(id);
    return (t.current ?? undefined) as ObjectTypes[K] | undefined;
  }

  all(): ObjectTypes[K][] {
    const out = this.overlay.size === 0 ? [...this.base.values()] : this.withoutOverlaid(this.base.values());
    for (const t of this.overlay.values()) if (t.current !== null) out.push(t.current as ObjectTypes[K]);
    return out;
  }

  count(): number {
    let n = this.base.size;
    for (const t of this.overlay.values()) {
      if (t.base === undefined && t.current !== null) n++;
      else if (t.base !== undefined && t.current === null) n--;
    }
    return n;
  }

  create(obj: ObjectTypes[K]): void {
    this.ctx.guard();
    const id = idOf(obj, this.kind, 'create');
    if (this.get(id) !== undefined) throw new StoreConflictError(`${this.kind} ${id} already exists`);
    this.checkWrite(obj, id);
    this.write(id, obj);
  }

  update(obj: ObjectTypes[K]): void {
    this.ctx.guard();
    const id = idOf(obj, this.kind, 'update');
    const current = this.expectVersion(obj, id);
    if (current === obj) {
      // Changing the store's own object in place would corrupt reads and indexes behind our back.
      throw new Error(`update ${this.kind} ${id}: pass a new object, not the one the store returned`);
    }
    this.checkWrite(obj, id);
    this.write(id, obj);
  }

  delete(obj: ObjectTypes[K]): void {
    this.ctx.guard();
    const id = idOf(obj, this.kind, 'delete');
    this.expectVersion(obj, id);
    this.write(id, null);
  }

  /** Further checks a subclass makes before a create or update (service names). */
  protected checkWrite(_obj: ObjectTypes[K], _id: string): void {}

  /** Keeps a subclass's overlay indexes in step: `before` leaves the overlay, `after` enters it. */
  protected reindex(_before: ObjectTypes[K] | undefined, _after: ObjectTypes[K] | undefined): void {}

  /** Base objects the transaction has not touched, in base order. */
  protected withoutOverlaid(objects: Iterable<ObjectTypes[K]>): ObjectTypes[K][] {
    const out: ObjectTypes[K][] = [];
    if (this.overlay.size === 0) {
      for (const o of objects) out.push(o);
      return out;
    }
    for (const o of objects) if (!this.overlay.has(o.meta?.id ?? '')) out.push(o);
    return out;
  }

  private expectVersion(obj: ObjectTypes[K], id: string): ObjectTypes[K] {
    const current = this.get(id);
    if (current === undefined) throw new StoreConflictError(`${this.kind} ${id} does not exist`);
    const have = current.meta?.version ?? 0;
    const named = obj.meta?.version ?? 0;
    if (have !== named) throw new StoreConflictError(`${this.kind} ${id} is at version ${have}, not ${named}`);
    return current;
  }

  private write(id: string, obj: ObjectTypes[K] | null): void {
    let t = this.overlay.get(id);
    if (t === undefined) {
      t = { kind: this.kind, base: this.base.get(id), current: null };
      this.ctx.record(t);
      this.overlay.set(id, t);
    } else {
      this.reindex((t.current ?? undefined) as ObjectTypes[K] | undefined, undefined);
    }
    t.current = obj;
    if (obj !== null) this.reindex(undefined, obj);
  }
}

class OverlayServices extends OverlayTable<'service'> implements ServiceReader {
  private readonly names = new ServiceNameIndex();
  private readonly baseNames: ServiceNameIndex;

  constructor(ctx: TxContext) {
    super(ctx, 'service');
    this.baseNames = ctx.state.serviceNames;
  }

  byName(name: string): Service | undefined {
    const written = this.names.get(name);
    if (written !== undefined) return written;
    const stored = this.baseNames.get(name);
    return stored !== undefined && !this.overlay.has(stored.meta?.id ?? '') ? stored : undefined;
  }

  protected override checkWrite(obj: Service, id: string): void {
    const name = serviceName(obj);
    if (name === '') return;
    const owner = this.byName(name);
    if (owner !== undefined && owner.meta?.id !== id) {
      throw new StoreConflictError(`service name "${name}" is already taken by service ${owner.meta?.id ?? ''}`);
    }
  }

  protected override reindex(before: Service | undefined, after: Service | undefined): void {
    if (before !== undefined) this.names.remove(before);
    if (after !== undefined) this.names.add(after);
  }
}

class OverlayTasks extends OverlayTable<'task'> implements TaskReader {
  /**
   * Indexes of the tasks this transaction wrote, built on the first index query and kept in step
   * after it: a transaction that only writes (the common case: 1,000 creates) never pays for them.
   */
  private written: TaskIndexes | undefined;
  private readonly stored: TaskIndexes;

  constructor(ctx: TxContext) {
    super(ctx, 'task');
    this.stored = ctx.state.taskIndexes;
  }

  byService(serviceId: string): Task[] {
    return this.merge(this.stored.byService.values(serviceId), this.writtenIndexes().byService.values(serviceId));
  }

  byNode(nodeId: string): Task[] {
    return this.merge(this.stored.byNode.values(nodeId), this.writtenIndexes().byNode.values(nodeId));
  }

  bySlot(serviceId: string, slot: number): Task[] {
    return this.merge(this.stored.bySlot.values(serviceId, slot), this.writtenIndexes().bySlot.values(serviceId, slot));
  }

  pending(): Task[] {
    return this.merge(this.stored.pending.values(), this.writtenIndexes().pending.values());
  }

  protected override reindex(before: Task | undefined, after: Task | undefined): void {
    if (this.written === undefined) return;
    if (before !== undefined) this.written.remove(before);
    if (after !== undefined) this.written.add(after);
  }

  private writtenIndexes(): TaskIndexes {
    if (this.written === undefined) {
      this.written = new TaskIndexes();
      for (const t of this.overlay.values()) if (t.current !== null) this.written.add(t.current as Task);
    }
    return this.written;
  }

  private merge(stored: Iterable<Task>, written: Iterable<Task>): Task[] {
    const out = this.withoutOverlaid(stored);
    for (const t of written) out.push(t);
    return out;
  }
}
