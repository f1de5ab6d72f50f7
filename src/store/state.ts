/**
 * The applied state: one table per kind plus the secondary indexes, kept in step by `put` and
 * `remove`, the only ways the state changes. `reader` is the ReadTx over it.
 */
import type { Service, Task } from '../../proto/gen/objects.js';
import { ServiceNameIndex, TaskIndexes } from './indexes.js';
import { OBJECT_KINDS, type KindedObject } from './kinds.js';
import type { ObjectKind, ObjectTypes, ReadTx, ServiceReader, StoreObject, TableReader, TaskReader } from './types.js';

export class StoreState {
  readonly serviceNames = new ServiceNameIndex();
  readonly taskIndexes = new TaskIndexes();
  readonly reader: ReadTx;
  private readonly tables = new Map<ObjectKind, Map<string, StoreObject>>(OBJECT_KINDS.map((kind) => [kind, new Map()]));

  constructor() {
    this.reader = {
      clusters: new MapTableReader(this.table('cluster')),
      nodes: new MapTableReader(this.table('node')),
      services: new StateServiceReader(this.table('service'), this.serviceNames),
      tasks: new StateTaskReader(this.table('task'), this.taskIndexes),
      networks: new MapTableReader(this.table('network')),
      secrets: new MapTableReader(this.table('secret')),
      configs: new MapTableReader(this.table('config')),
    };
  }

  table<K extends ObjectKind>(kind: K): Map<string, ObjectTypes[K]> {
    // Each kind's map only ever receives objects of that kind (put and restore go through KindedObject).
    return this.tables.get(kind) as Map<string, ObjectTypes[K]>;
  }

  get(kind: ObjectKind, id: string): StoreObject | undefined {
    return this.tables.get(kind)?.get(id);
  }

  /** Inserts or replaces `entry.object` (by meta.id), moving it in every index. */
  put(entry: KindedObject, previous: StoreObject | undefined): void {
    const id = entry.object.meta?.id ?? '';
    this.tables.get(entry.kind)?.set(id, entry.object);
    if (entry.kind === 'service') {
      if (previous !== undefined) this.serviceNames.remove(previous as Service);
      this.serviceNames.add(entry.object);
    } else if (entry.kind === 'task') {
      if (previous !== undefined) this.taskIndexes.replace(previous as Task, entry.object);
      else this.taskIndexes.add(entry.object);
    }
  }

  remove(entry: KindedObject): void {
    this.tables.get(entry.kind)?.delete(entry.object.meta?.id ?? '');
    if (entry.kind === 'service') this.serviceNames.remove(entry.object);
    else if (entry.kind === 'task') this.taskIndexes.remove(entry.object);
  }

  /** Every object, kinds in OBJECT_KINDS order, each table in insertion order. */
  *objects(): Iterable<KindedObject> {
    for (const kind of OBJECT_KINDS) {
      for (const object of this.tables.get(kind)?.values() ?? []) yield { kind, object } as KindedObject;
    }
  }
}

export class MapTableReader<T> implements TableReader<T> {
  constructor(protected readonly map: Map<string, T>) {}

  get(id: string): T | undefined {
    return this.map.get(id);
  }

  all(): T[] {
    return [...this.map.values()];
  }

  count(): number {
    return this.map.size;
  }
}

class StateServiceReader extends MapTableReader<Service> implements ServiceReader {
  constructor(
    map: Map<string, Service>,
    private readonly names: ServiceNameIndex,
  ) {
    super(map);
  }

  byName(name: string): Service | undefined {
    return this.names.get(name);
  }
}

class StateTaskReader extends MapTableReader<Task> implements TaskReader {
  constructor(
    map: Map<string, Task>,
    private readonly indexes: TaskIndexes,
  ) {
    super(map);
  }

  byService(serviceId: string): Task[] {
    return [...this.indexes.byService.values(serviceId)];
  }

  byNode(nodeId: string): Task[] {
    return [...this.indexes.byNode.values(nodeId)];
  }

  bySlot(serviceId: string, slot: number): Task[] {
    return [...this.indexes.bySlot.values(serviceId, slot)];
  }

  pending(): Task[] {
    return [...this.indexes.pending.values()];
  }
}
