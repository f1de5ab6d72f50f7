import { TaskState, type Task } from '../../proto/gen/objects.js';

/** The observed state of a task; a task without a status has not been seen by anyone yet. */
function observedState(task: Task): TaskState {
  return task.status?.state ?? TaskState.TASK_STATE_NEW;
}

/**
 * A task holds its node's resources from assignment until the worker reports it finished, whatever
 * the managers now want of it: a task told to shut down still runs until it says it stopped.
 */
export function occupiesNode(task: Task): boolean {
  const state = observedState(task);
  return task.nodeId !== '' && state >= TaskState.TASK_STATE_ASSIGNED && state <= TaskState.TASK_STATE_RUNNING;
}

/** A task that occupies its node and is meant to keep running: what spreading and max replicas count. */
export function isActiveOnNode(task: Task): boolean {
  return occupiesNode(task) && task.desiredState <= TaskState.TASK_STATE_RUNNING;
}
