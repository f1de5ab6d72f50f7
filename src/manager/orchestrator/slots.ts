/**
 * A service's tasks seen as slots: replicated services number their slots 1..replicas, a global
 * service has one "slot" per node. A slot holds every generation of its task; the runnable ones
 * occupy it (two at once while a start-first update overlaps old and new).
 */
import type { Task } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';
import { shouldRestart } from './restart-policy.js';
import { endedOnItsOwn, isRunnable, newest } from './task.js';

/** A replicated slot number, or the node id of a global service's slot. */
export type SlotKey = number | string;

export interface Slot {
  readonly key: SlotKey;
  readonly tasks: Task[];
  readonly runnable: Task[];
}

export function slotKeyOf(task: Task): SlotKey {
  return task.slot > 0 ? task.slot : task.nodeId;
}

/** Groups a service's tasks by slot (by node for global tasks, whose slot is 0). */
export function groupSlots(tasks: Iterable<Task>): Map<SlotKey, Slot> {
  const slots = new Map<SlotKey, Slot>();
  for (const task of tasks) {
    const key = slotKeyOf(task);
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = { key, tasks: [], runnable: [] };
      slots.set(key, slot);
    }
    slot.tasks.push(task);
    if (isRunnable(task)) slot.runnable.push(task);
  }
  return slots;
}

/** Every generation of `task`'s slot, `task` included. */
export function slotHistory(tx: ReadTx, task: Task): Task[] {
  if (task.slot > 0) return tx.tasks.bySlot(task.serviceId, task.slot);
  if (task.nodeId === '') return [task];
  return tx.tasks.byNode(task.nodeId).filter((t) => t.serviceId === task.serviceId);
}

/**
 * A slot the restart policy gave up on: nothing runs in it and its latest task ended by itself and
 * is not to be restarted. Such a slot is left as it is (the service shows fewer running tasks)
 * rather than refilled; a task that was merely shut down (scale down, update) leaves its slot free.
 */
export function isGivenUp(slot: Slot): boolean {
  if (slot.runnable.length > 0) return false;
  const latest = newest(slot.tasks);
  return latest !== undefined && endedOnItsOwn(latest) && !shouldRestart(latest, slot.tasks);
}
