/**
 * Secondary indexes. Each keeps the indexed objects themselves (not ids), so a query costs the
 * size of its answer and no table lookups. The same classes index the applied state and, inside a
 * write transaction, the objects that transaction wrote.
 */
import { TaskState, type Service, type Task } from '../../proto/gen/objects.js';

/** Objects grouped by a string key; each group keeps insertion order. */
export class GroupIndex<T> {
  private readonly groups = new Map<string, Map<string, T>>();

  add(key: string, id: string, obj: T): void {
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new Map();
      this.groups.set(key, group);
    }
    group.set(id, obj);
  }

  remove(key: string, id: string): void {
    const group = this.groups.get(key);
    if (group === undefined) return;
    group.delete(id);
    // Empty groups are dropped so that keys of deleted services and nodes do not accumulate.
    if (group.size === 0) this.groups.delete(key);
  }

  /** The group's objects, or an empty iterable. */
  values(key: string): Iterable<T> {
    return this.groups.get(key)?.values() ?? [];
  }

  size(key: string): number {
    return this.groups.get(key)?.size ?? 0;
  }
}

/**
 * Like GroupIndex for groups that stay small (a slot holds its few generations of tasks): an array
 * per group costs far less memory than a Map when there are 100,000 groups of one or two.
 */
export class SmallGroupIndex<T extends { meta?: { id: string } | undefined }> {
  private readonly groups = new Map<string, T[]>();

  add(key: string, obj: T): void {
    const group = this.groups.get(key);
    if (group === undefined) this.groups.set(key, [obj]);
    else group.push(obj);
  }

  remove(key: string, id: string): void {
    const group = this.groups.get(key);
    if (group === undefined) return;
    const at = group.findIndex((o) => o.meta?.id === id);
    if (at < 0) return;
    if (group.length === 1) this.groups.delete(key);
    else group.splice(at, 1);
  }

  values(key: string): Iterable<T> {
    return this.groups.get(key) ?? [];
  }
}

/** The scheduler's queue: placed nowhere yet, and meant to run. */
export function isPending(task: Task): boolean {
  return task.status?.state === TaskState.TASK_STATE_PENDING && task.desiredState <= TaskState.TASK_STATE_RUNNING;
}

export function slotKey(serviceId: string, slot: number): string {
  return `${serviceId}\u0000${slot}`;
}

export class TaskIndexes {
  readonly byService = new GroupIndex<Task>();
  /** Unassigned tasks (empty nodeId) are not indexed by node. */
  readonly byNode = new GroupIndex<Task>();
  readonly bySlot = new SmallGroupIndex<Task>();
  readonly pending = new Map<string, Task>();

  add(task: Task): void {
    const id = task.meta?.id ?? '';
    this.byService.add(task.serviceId, id, task);
    this.bySlot.add(slotKey(task.serviceId, task.slot), task);
    if (task.nodeId !== '') this.byNode.add(task.nodeId, id, task);
    if (isPending(task)) this.pending.set(id, task);
  }

  remove(task: Task): void {
    const id = task.meta?.id ?? '';
    this.byService.remove(task.serviceId, id);
    this.bySlot.remove(slotKey(task.serviceId, task.slot), id);
    if (task.nodeId !== '') this.byNode.remove(task.nodeId, id);
    this.pending.delete(id);
  }
}

/** Service names are unique; services without a name are not indexed. */
export class ServiceNameIndex {
  private readonly byName = new Map<string, Service>();

  get(name: string): Service | undefined {
    return this.byName.get(name);
  }

  add(service: Service): void {
    const name = serviceName(service);
    if (name !== '') this.byName.set(name, service);
  }

  remove(service: Service): void {
    const name = serviceName(service);
    // Only if it is this service's entry: a conflicting write is refused before it gets here, but
    // removing someone else's name would silently corrupt the index.
    if (name !== '' && this.byName.get(name)?.meta?.id === service.meta?.id) this.byName.delete(name);
  }
}

export function serviceName(service: Service): string {
  return service.spec?.annotations?.name ?? '';
}
