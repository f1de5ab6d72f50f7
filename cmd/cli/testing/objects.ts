/** Small builders of services, tasks and nodes for the CLI's unit tests. */
import {
  Node,
  NodeState,
  Service,
  ServiceSpec,
  Task,
  TaskSpec,
  TaskState,
  UpdateState,
} from '../../../proto/gen/objects.js';

export function replicatedService(replicas: number, image = 'nginx:1'): Service {
  return Service.fromPartial({
    meta: { id: 'svc1', version: 1 },
    spec: ServiceSpec.fromPartial({
      annotations: { name: 'web' },
      task: { container: { image } },
      mode: { $case: 'replicated', replicated: { replicas } },
    }),
    specVersion: 1,
  });
}

export function globalService(image = 'agent:1'): Service {
  const service = replicatedService(0, image);
  service.spec!.mode = { $case: 'global', global: {} };
  return service;
}

export function withStatus(service: Service, state: UpdateState, message = ''): Service {
  return { ...service, updateStatus: { state, startedAt: 1, completedAt: 0, message } };
}

let nextTask = 0;

export interface TaskFields {
  slot?: number;
  nodeId?: string;
  state?: TaskState;
  desired?: TaskState;
  err?: string;
  message?: string;
  spec?: TaskSpec;
  createdAt?: number;
  timestamp?: number;
}

export function task(service: Service, fields: TaskFields = {}): Task {
  nextTask++;
  return Task.fromPartial({
    meta: { id: `task${String(nextTask).padStart(21, '0')}`, version: 1, createdAt: fields.createdAt ?? nextTask },
    serviceId: service.meta!.id,
    slot: fields.slot ?? 0,
    nodeId: fields.nodeId ?? 'node1',
    spec: fields.spec ?? service.spec!.task,
    specVersion: service.specVersion,
    serviceAnnotations: { name: service.spec!.annotations!.name },
    desiredState: fields.desired ?? TaskState.TASK_STATE_RUNNING,
    status: {
      state: fields.state ?? TaskState.TASK_STATE_RUNNING,
      err: fields.err ?? '',
      message: fields.message ?? '',
      timestamp: fields.timestamp ?? 0,
    },
  });
}

export function node(id: string, hostname: string, state = NodeState.NODE_STATE_READY): Node {
  return Node.fromPartial({ meta: { id, version: 1 }, description: { hostname }, status: { state } });
}
