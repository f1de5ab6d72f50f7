/** Builders for the scheduler's tests: nodes and tasks with only the parts a test cares about. */
import { Node, NodeAvailability, NodeRole, NodeState, PortProtocol, PublishMode, Task, TaskState } from '../../../proto/gen/objects.js';

export const GiB = 2 ** 30;
export const CPU = 1e9;

export interface NodeOptions {
  hostname?: string;
  role?: NodeRole;
  state?: NodeState;
  availability?: NodeAvailability;
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  os?: string;
  arch?: string;
  nanoCpus?: number;
  memoryBytes?: number;
  version?: number;
}

export function makeNode(id: string, options: NodeOptions = {}): Node {
  return Node.fromPartial({
    meta: { id, version: options.version ?? 1 },
    spec: {
      annotations: { name: '', labels: options.labels ?? {} },
      availability: options.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    },
    description: {
      hostname: options.hostname ?? `host-${id}`,
      platform: { os: options.os ?? 'linux', architecture: options.arch ?? 'amd64' },
      resources: { nanoCpus: options.nanoCpus ?? 4 * CPU, memoryBytes: options.memoryBytes ?? 8 * GiB },
      labels: options.engineLabels ?? {},
    },
    status: { state: options.state ?? NodeState.NODE_STATE_READY },
    role: options.role ?? NodeRole.NODE_ROLE_WORKER,
  });
}

export interface TaskOptions {
  serviceId?: string;
  slot?: number;
  nodeId?: string;
  state?: TaskState;
  desiredState?: TaskState;
  message?: string;
  nanoCpus?: number;
  memoryBytes?: number;
  constraints?: string[];
  spread?: string[];
  maxReplicas?: number;
  /** TCP ports published in host mode (the task's endpoint). */
  hostPorts?: number[];
  version?: number;
}

export function makeTask(id: string, options: TaskOptions = {}): Task {
  return Task.fromPartial({
    meta: { id, version: options.version ?? 1 },
    serviceId: options.serviceId ?? 'svc',
    slot: options.slot ?? 1,
    nodeId: options.nodeId ?? '',
    spec: {
      resources: { reservations: { nanoCpus: options.nanoCpus ?? 0, memoryBytes: options.memoryBytes ?? 0 } },
      placement: {
        constraints: options.constraints ?? [],
        preferences: (options.spread ?? []).map((spread) => ({ spread })),
        maxReplicas: options.maxReplicas ?? 0,
      },
    },
    ...(options.hostPorts
      ? {
          endpoint: {
            ports: options.hostPorts.map((p) => ({
              protocol: PortProtocol.PORT_PROTOCOL_TCP,
              targetPort: 80,
              publishedPort: p,
              publishMode: PublishMode.PUBLISH_MODE_HOST,
            })),
          },
        }
      : {}),
    desiredState: options.desiredState ?? TaskState.TASK_STATE_RUNNING,
    status: { state: options.state ?? TaskState.TASK_STATE_PENDING, message: options.message ?? '' },
  });
}

/** `n` pending tasks of one service, ids `${prefix}1..n`. */
export function pendingTasks(n: number, prefix: string, options: TaskOptions = {}): Task[] {
  return Array.from({ length: n }, (_, i) => makeTask(`${prefix}${i + 1}`, { slot: i + 1, ...options }));
}

/** A task already running on a node. */
export function runningTask(id: string, nodeId: string, options: TaskOptions = {}): Task {
  return makeTask(id, { nodeId, state: TaskState.TASK_STATE_RUNNING, ...options });
}
