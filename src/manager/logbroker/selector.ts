/**
 * Which tasks a log subscription covers, read from the store: the tasks of the named services that
 * a node has taken on, and the tasks named themselves. Names resolve as every control call's do
 * (lookup.ts), so an unknown service or task fails the subscription with NOT_FOUND.
 */
import type { LogSelector } from '../../../proto/gen/logs.js';
import { TaskState, type Task } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';
import { findService, findTask } from '../controlapi/lookup.js';
import { isAssigned } from '../dispatcher/assignments.js';

export interface ResolvedSelector {
  /** The services whose new tasks a following subscription takes up. */
  serviceIds: Set<string>;
  tasks: Task[];
}

export function resolveSelector(tx: ReadTx, selector: LogSelector | undefined): ResolvedSelector {
  const serviceIds = new Set((selector?.serviceIds ?? []).map((ref) => findService(tx, ref).meta!.id));
  const tasks = new Map<string, Task>();
  for (const id of serviceIds) for (const task of tx.tasks.byService(id)) if (nodeHasTask(task)) tasks.set(task.meta!.id, task);
  // A task asked for by name is asked of its node whatever its state, so the answer is the node's.
  for (const ref of selector?.taskIds ?? []) {
    const task = findTask(tx, ref);
    if (task.nodeId !== '') tasks.set(task.meta!.id, task);
  }
  return { serviceIds, tasks: [...tasks.values()] };
}

/**
 * Whether the task's node holds it, log included: it has said so (ACCEPTED or later; a task only
 * ASSIGNED may not have reached its node yet, and has written nothing), and it is still in the
 * node's assignment set (a finished task that left it has been removed from the node, log and all).
 */
export function nodeHasTask(task: Task): boolean {
  return task.nodeId !== '' && (task.status?.state ?? TaskState.TASK_STATE_NEW) >= TaskState.TASK_STATE_ACCEPTED && isAssigned(task);
}
