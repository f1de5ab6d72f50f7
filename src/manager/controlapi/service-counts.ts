/** The REPLICAS column of `shoal service ls`: running tasks out of desired ones. */
import { TaskState, type Service, type Task } from '../../../proto/gen/objects.js';

export interface ServiceTaskCounts {
  /** Tasks observed RUNNING that are meant to keep running. */
  running: number;
  /** The replica count; for a global service, the nodes holding a runnable task of it. */
  desired: number;
}

export function serviceTaskCounts(service: Service, tasks: readonly Task[]): ServiceTaskCounts {
  let running = 0;
  const nodesWithRunnable = new Set<string>();
  for (const task of tasks) {
    if (task.desiredState > TaskState.TASK_STATE_RUNNING) continue;
    if (task.desiredState === TaskState.TASK_STATE_RUNNING && task.status?.state === TaskState.TASK_STATE_RUNNING) running++;
    nodesWithRunnable.add(task.nodeId);
  }
  const mode = service.spec?.mode;
  const desired = mode?.$case === 'replicated' ? mode.replicated.replicas : nodesWithRunnable.size;
  return { running, desired };
}
