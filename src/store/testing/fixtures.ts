/** Small object builders for tests: valid objects with fresh ids and only the fields a test names. */
import { newId } from '../../common/ids.js';
import { Node, Service, Task, TaskState, type Meta } from '../../../proto/gen/objects.js';

function meta(id?: string): Meta {
  return { id: id ?? newId(), version: 0, createdAt: 0, updatedAt: 0 };
}

export function makeService(name: string, replicas = 1, id?: string): Service {
  return Service.fromPartial({
    meta: meta(id),
    spec: {
      annotations: { name },
      task: { container: { image: 'busybox:latest' } },
      mode: { $case: 'replicated', replicated: { replicas } },
    },
    specVersion: 1,
  });
}

export interface TaskFields {
  id?: string;
  serviceId?: string;
  slot?: number;
  nodeId?: string;
  state?: TaskState;
  desiredState?: TaskState;
}

/** By default a new task as the replicated orchestrator makes it: PENDING, meant to be RUNNING. */
export function makeTask(fields: TaskFields = {}): Task {
  return Task.fromPartial({
    meta: meta(fields.id),
    serviceId: fields.serviceId ?? 'service-1',
    slot: fields.slot ?? 1,
    nodeId: fields.nodeId ?? '',
    spec: { container: { image: 'busybox:latest' } },
    specVersion: 1,
    desiredState: fields.desiredState ?? TaskState.TASK_STATE_RUNNING,
    status: { state: fields.state ?? TaskState.TASK_STATE_PENDING },
  });
}

export function makeNode(hostname: string, id?: string): Node {
  return Node.fromPartial({ meta: meta(id), description: { hostname } });
}
