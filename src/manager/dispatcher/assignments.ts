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
 * Whether a task update can change what a node acts on: whether the task is in the node's set (its
 * node, or its state crossing in or out of isAssigned), or its desired state. Most task updates are
 * the node's own status reports, which change none of these.
 */
export function movesAssignments(before: Task, after: Task): boolean {
  return before.nodeId !== after.nodeId || before.desiredState !== after.desiredState || isAssigned(before) !== isAssigned(after);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
