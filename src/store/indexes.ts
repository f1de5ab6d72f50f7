/**
 * Secondary indexes. Each keeps the indexed objects themselves (not ids), so a query costs the
 * size of its answer and no table lookups. The same classes index the applied state and, inside a
 * write transaction, the objects that transaction wrote.
 */
import { TaskState, type Service, type Task } from '../../proto/gen/objects.js';

/** Objects grouped by a string key; each group keeps insertion order. */
export class GroupIndex<T> {
  private readonly groups = new Map<string, Map<string, T>>();

  /** Adds the object, or replaces the one with its id in place (keeping its position). */
  set(key: string, id: string, obj: T): void {
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
 * Tasks by (service, slot). A slot holds its few generations of tasks: an array per slot costs far
 * less memory than a Map when there are 100,000 slots of one or two, and the service's slots are
 * keyed by number, so no string key is built per lookup.
 */
export class SlotIndex {
  private readonly services = new Map<string, Map<number, Task[]>>();

  add(task: Task): void {
    let slots = this.services.get(task.serviceId);
    if (slots === undefined) this.services.set(task.serviceId, (slots = new Map()));
    const group = slots.get(task.slot);
    if (group === undefined) slots.set(task.slot, [task]);
    else group.push(task);
  }

  remove(task: Task): void {
    const slots = this.services.get(task.serviceId);
    const group = slots?.get(task.slot);
    if (slots === undefined || group === undefined) return;
    const at = indexOfId(group, task.meta?.id ?? '');
    if (at < 0) return;
    if (group.length > 1) group.splice(at, 1);
    else if (slots.size > 1) slots.delete(task.slot);
    else this.services.delete(task.serviceId);
  }

  /** Replaces `previous` by `next`, a newer version of the same task in the same slot, in place. */
  replace(previous: Task, next: Task): void {
    const group = this.services.get(previous.serviceId)?.get(previous.slot);
    const at = group === undefined ? -1 : indexOfId(group, previous.meta?.id ?? '');
    if (at < 0) this.add(next);
    else group![at] = next;
  }

  values(serviceId: string, slot: number): Iterable<Task> {
    return this.services.get(serviceId)?.get(slot) ?? [];
  }
}

function indexOfId(group: readonly Task[], id: string): number {
  for (let i = 0; i < group.length; i++) if (group[i]!.meta?.id === id) return i;
  return -1;
}

/** The scheduler's queue: placed nowhere yet, and meant to run. */
export function isPending(task: Task): boolean {
  return task.status?.state === TaskState.TASK_STATE_PENDING && task.desiredState <= TaskState.TASK_STATE_RUNNING;
}

export class TaskIndexes {
  readonly byService = new GroupIndex<Task>();
  /** Unassigned tasks (empty nodeId) are not indexed by node. */
  readonly byNode = new GroupIndex<Task>();
  readonly bySlot = new SlotIndex();
  readonly pending = new Map<string, Task>();

  add(task: Task): void {
    const id = task.meta?.id ?? '';
    this.byService.set(task.serviceId, id, task);
    this.bySlot.add(task);
    if (task.nodeId !== '') this.byNode.set(task.nodeId, id, task);
    if (isPending(task)) this.pending.set(id, task);
  }

  remove(task: Task): void {
    const id = task.meta?.id ?? '';
    this.byService.remove(task.serviceId, id);
    this.bySlot.remove(task);
    if (task.nodeId !== '') this.byNode.remove(task.nodeId, id);
    this.pending.delete(id);
  }

  /**
   * `next` (same id) takes `previous`'s place. Most updates keep the service, slot and node, and
   * then each index is updated in place: cheaper than removing and adding, and every index keeps
   * creation order, as after a restore from a snapshot.
   */
  replace(previous: Task, next: Task): void {
    if (previous.serviceId !== next.serviceId || previous.slot !== next.slot) {
      this.remove(previous);
      this.add(next);
      return;
    }
    const id = next.meta?.id ?? '';
    this.byService.set(next.serviceId, id, next);
    this.bySlot.replace(previous, next);
    if (previous.nodeId !== next.nodeId && previous.nodeId !== '') this.byNode.remove(previous.nodeId, id);
    if (next.nodeId !== '') this.byNode.set(next.nodeId, id, next);
    if (isPending(next)) this.pending.set(id, next);
    else this.pending.delete(id);
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
