/**
 * What the dispatcher streams to a node: every task placed on it that the node still has to run or
 * to stop. A task leaves the set once it has finished and the managers no longer want it running,
 * since nothing is left for the node to do with it.
 */
import { TaskState, type Task } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';

export function isAssigned(task: Task): boolean {
  const state = task.status?.state ?? TaskState.TASK_STATE_NEW;
  if (state < TaskState.TASK_STATE_ASSIGNED) return false;
  const finished = state > TaskState.TASK_STATE_RUNNING;
  return !(finished && task.desiredState >= TaskState.TASK_STATE_SHUTDOWN);
}

/** The node's assignment set, in a stable order (by task id). */
export function assignmentsOf(tx: ReadTx, nodeId: string): Task[] {
  return tx.tasks
    .byNode(nodeId)
    .filter(isAssigned)
    .sort((a, b) => compare(a.meta?.id ?? '', b.meta?.id ?? ''));
}

/**
 * Identifies what the node must act on: which tasks, at which desired state. Status changes the
 * node reported itself are left out, so the node's own reports do not make the set resend.
 */
export function assignmentKey(tasks: readonly Task[]): string {
  return tasks.map((t) => `${t.meta?.id ?? ''}:${t.desiredState}`).join(',');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
