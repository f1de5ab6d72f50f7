/** The Control calls on tasks: read-only views of the leader's store. */
import type { GetTaskRequest, ListTasksRequest, ListTasksResponse, TaskResponse } from '../../../proto/gen/control.js';
import type { Task } from '../../../proto/gen/objects.js';
import type { ReadTx, Store } from '../../store/types.js';
import { findNode, findService, findTask } from './lookup.js';

export function taskHandlers({ store }: { store: Store }) {
  return {
    async getTask(req: GetTaskRequest): Promise<TaskResponse> {
      return { task: store.view((tx) => findTask(tx, req.id)) };
    },

    async listTasks(req: ListTasksRequest): Promise<ListTasksResponse> {
      return store.view((tx) => {
        const desired = new Set(req.desiredStates);
        const nodeIds = new Set(req.nodeIds.map((ref) => resolveNodeId(tx, ref)));
        const candidates = candidateTasks(tx, req, nodeIds);
        const tasks = candidates.filter(
          (task) => (nodeIds.size === 0 || nodeIds.has(task.nodeId)) && (desired.size === 0 || desired.has(task.desiredState)),
        );
        return { tasks };
      });
    },
  };
}

/** Starts from an index when a filter allows it: listing one service's tasks must not walk every task. */
function candidateTasks(tx: ReadTx, req: ListTasksRequest, nodeIds: Set<string>): Task[] {
  if (req.serviceIds.length > 0) {
    const serviceIds = new Set(req.serviceIds.map((ref) => resolveServiceId(tx, ref)));
    return [...serviceIds].flatMap((id) => tx.tasks.byService(id));
  }
  if (nodeIds.size > 0) return [...nodeIds].flatMap((id) => tx.tasks.byNode(id));
  return tx.tasks.all();
}

/**
 * A filter value is taken as an id when some object (or, for a removed service, some task) carries
 * it, so tasks of a service being torn down can still be listed; otherwise as a name or prefix.
 */
function resolveServiceId(tx: ReadTx, ref: string): string {
  if (tx.services.get(ref) !== undefined || tx.tasks.byService(ref).length > 0) return ref;
  return findService(tx, ref).meta!.id;
}

function resolveNodeId(tx: ReadTx, ref: string): string {
  if (tx.nodes.get(ref) !== undefined || tx.tasks.byNode(ref).length > 0) return ref;
  return findNode(tx, ref).meta!.id;
}
