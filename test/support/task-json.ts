/** Reading `shoal service ps --format json` and `service inspect` output in tests. */
import { TaskState } from '../../proto/gen/objects.js';

/** A task as Task.toJSON writes it: default values are left out. */
export interface TaskJson {
  meta?: { id?: string };
  serviceId?: string;
  slot?: number;
  nodeId?: string;
  specVersion?: number;
  spec?: { container?: { image?: string; args?: string[] } };
  desiredState?: string;
  status?: { state?: string; message?: string; err?: string };
}

export interface ServiceJson {
  meta?: { id?: string; version?: number };
  spec?: { annotations?: { name?: string; labels?: Record<string, string> }; task?: { container?: { image?: string } }; mode?: unknown };
  specVersion?: number;
  updateStatus?: { state?: string; message?: string };
}

function stateOf(name: string | undefined): TaskState {
  if (name === undefined) return TaskState.TASK_STATE_NEW;
  const value = TaskState[name as keyof typeof TaskState];
  if (typeof value !== 'number') throw new Error(`unknown task state ${name}`);
  return value;
}

export const observed = (t: TaskJson): TaskState => stateOf(t.status?.state);
export const desired = (t: TaskJson): TaskState => stateOf(t.desiredState);
export const imageOf = (t: TaskJson): string => t.spec?.container?.image ?? '';

/** Occupies its slot: the managers still want it running. */
export const isRunnable = (t: TaskJson): boolean => desired(t) <= TaskState.TASK_STATE_RUNNING;
export const isRunning = (t: TaskJson): boolean => isRunnable(t) && observed(t) === TaskState.TASK_STATE_RUNNING;
