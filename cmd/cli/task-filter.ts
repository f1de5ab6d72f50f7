/**
 * `--filter KEY=VALUE` for the task listings (`service ps`, `node ps`, `stack ps`, `task ls`), as
 * docker reads it: values of one key are alternatives, different keys must all match. The manager
 * applies what ListTasks can filter on (desired state, node, service); id and name prefixes are
 * applied here.
 */
import type { ListTasksRequest } from '../../proto/gen/control.js';
import type { Task, TaskState } from '../../proto/gen/objects.js';
import { UsageError } from './errors.js';
import type { FlagSpec } from './flags.js';
import { taskName, taskStateFromWord } from './task-view.js';

export type TaskFilterKey = 'desired-state' | 'id' | 'name' | 'node' | 'service';

const keyHelp: Record<TaskFilterKey, string> = {
  'desired-state': 'desired-state=STATE',
  id: 'id=ID',
  name: 'name=TASKNAME',
  node: 'node=NODE',
  service: 'service=SERVICE',
};

/** The --filter flag of a listing that accepts `keys`. */
export function taskFilterFlag(keys: readonly TaskFilterKey[]): FlagSpec {
  return {
    name: 'filter',
    short: 'f',
    kind: 'list',
    value: 'filter',
    help: `Filter output based on conditions provided (${keys.map((k) => keyHelp[k]).join(', ')})`,
  };
}

export interface TaskFilters {
  /** The part the manager applies. */
  readonly request: Pick<ListTasksRequest, 'serviceIds' | 'nodeIds' | 'desiredStates'>;
  /** The part applied to the tasks the manager returned. */
  matches(task: Task): boolean;
}

export function parseTaskFilters(filters: readonly string[], keys: readonly TaskFilterKey[]): TaskFilters {
  const serviceIds: string[] = [];
  const nodeIds: string[] = [];
  const desiredStates: TaskState[] = [];
  const ids: string[] = [];
  const names: string[] = [];
  for (const filter of filters) {
    const eq = filter.indexOf('=');
    const key = eq < 0 ? filter : filter.slice(0, eq);
    const value = eq < 0 ? '' : filter.slice(eq + 1);
    if (value === '') throw new UsageError(`invalid filter "${filter}": use KEY=VALUE`);
    if (!(keys as readonly string[]).includes(key)) {
      throw new UsageError(`invalid filter "${filter}": the filters are ${[...keys].sort().join(', ')}`);
    }
    switch (key as TaskFilterKey) {
      case 'desired-state': {
        const state = taskStateFromWord(value);
        if (state === undefined) throw new UsageError(`invalid filter "${filter}": ${value} is not a task state (e.g. running, shutdown, accepted)`);
        desiredStates.push(state);
        break;
      }
      case 'id':
        ids.push(value);
        break;
      case 'name':
        names.push(value);
        break;
      case 'node':
        nodeIds.push(value);
        break;
      case 'service':
        serviceIds.push(value);
        break;
    }
  }
  return {
    request: { serviceIds, nodeIds, desiredStates },
    matches: (task) =>
      (ids.length === 0 || ids.some((id) => task.meta!.id.startsWith(id))) &&
      (names.length === 0 || names.some((name) => taskName(task).startsWith(name))),
  };
}
