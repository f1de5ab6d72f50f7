/** How tasks, nodes and services read in tables and progress: state words, names, problems. */
import {
  NodeAvailability,
  NodeState,
  TaskState,
  type Node,
  type Service,
  type Task,
} from '../../proto/gen/objects.js';

const taskStateWords: Record<TaskState, string> = {
  [TaskState.TASK_STATE_NEW]: 'new',
  [TaskState.TASK_STATE_PENDING]: 'pending',
  [TaskState.TASK_STATE_ASSIGNED]: 'assigned',
  [TaskState.TASK_STATE_ACCEPTED]: 'accepted',
  [TaskState.TASK_STATE_PREPARING]: 'preparing',
  [TaskState.TASK_STATE_READY]: 'ready',
  [TaskState.TASK_STATE_STARTING]: 'starting',
  [TaskState.TASK_STATE_RUNNING]: 'running',
  [TaskState.TASK_STATE_COMPLETE]: 'complete',
  [TaskState.TASK_STATE_SHUTDOWN]: 'shutdown',
  [TaskState.TASK_STATE_FAILED]: 'failed',
  [TaskState.TASK_STATE_REJECTED]: 'rejected',
  [TaskState.TASK_STATE_REMOVE]: 'remove',
  [TaskState.TASK_STATE_ORPHANED]: 'orphaned',
  [TaskState.UNRECOGNIZED]: 'unknown',
};

/** `running`, `pending`, ... as docker's progress shows them. */
export function taskStateWord(state: TaskState): string {
  return taskStateWords[state] ?? 'unknown';
}

/** `Running`, `Shutdown`, ... as docker's `service ps` shows them. */
export function taskStateTitle(state: TaskState): string {
  const word = taskStateWord(state);
  return word[0]!.toUpperCase() + word.slice(1);
}

/** The task state for a word on the command line (`--filter desired-state=running`). */
export function taskStateFromWord(word: string): TaskState | undefined {
  const entry = Object.entries(taskStateWords).find(([, w]) => w === word.toLowerCase());
  return entry === undefined ? undefined : (Number(entry[0]) as TaskState);
}

/** The scheduler explains a task that fits nowhere in its status message with this prefix. */
const UNSCHEDULABLE_PREFIX = 'no suitable node';

/** What is wrong with a task, for the ERROR column and progress: its error, or why it cannot be placed. */
export function taskProblem(task: Task): string {
  const status = task.status;
  if (!status) return '';
  if (status.err !== '') return status.err;
  if (status.state === TaskState.TASK_STATE_PENDING && status.message.startsWith(UNSCHEDULABLE_PREFIX)) return status.message;
  return '';
}

export function serviceName(service: Service): string {
  return service.spec?.annotations?.name ?? '';
}

/** `web.3` for a replicated task, `web.NODEID` for a global one (docker's task names). */
export function taskName(task: Task): string {
  const service = task.serviceAnnotations?.name || task.serviceId;
  return task.slot > 0 ? `${service}.${task.slot}` : `${service}.${task.nodeId}`;
}

export function nodeStateTitle(state: NodeState): string {
  switch (state) {
    case NodeState.NODE_STATE_READY:
      return 'Ready';
    case NodeState.NODE_STATE_DOWN:
      return 'Down';
    case NodeState.NODE_STATE_DISCONNECTED:
      return 'Disconnected';
    default:
      return 'Unknown';
  }
}

export function availabilityTitle(availability: NodeAvailability): string {
  switch (availability) {
    case NodeAvailability.NODE_AVAILABILITY_PAUSE:
      return 'Pause';
    case NodeAvailability.NODE_AVAILABILITY_DRAIN:
      return 'Drain';
    default:
      return 'Active';
  }
}

export function nodeHostname(node: Node): string {
  return node.description?.hostname ?? '';
}
