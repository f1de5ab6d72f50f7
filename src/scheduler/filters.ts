import { NodeAvailability, NodeState, type Task } from '../../proto/gen/objects.js';
import { matchesConstraints, parseConstraints } from './constraints.js';
import { hasDynamicHostPorts, taskHostPorts, withDynamicHostPorts } from './host-ports.js';
import { taskReservations, type NodeInfo } from './node-info.js';

/**
 * One reason a node can be unfit for a task. Filters are made for one task (see `filtersFor`) so
 * that what the task asks for is worked out once and checked against many nodes.
 */
export interface Filter {
  readonly name: string;
  /**
   * True when the verdict depends on what is placed on the node (resources, replicas per node), so
   * it can turn false while a batch is being placed. Other filters look at the node alone.
   */
  readonly capacity: boolean;
  check(node: NodeInfo): boolean;
  /** Why `nodes` nodes were rejected, in docker's words. */
  explain(nodes: number): string;
}

export function countNodes(n: number): string {
  return n === 1 ? '1 node' : `${n} nodes`;
}

const ready: Filter = {
  name: 'ready',
  capacity: false,
  check: (node) => node.node.status?.state === NodeState.NODE_STATE_READY,
  explain: (n) => `${countNodes(n)} not ready`,
};

const availability: Filter = {
  name: 'availability',
  capacity: false,
  check: (node) => (node.node.spec?.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE) === NodeAvailability.NODE_AVAILABILITY_ACTIVE,
  explain: (n) => `${countNodes(n)} not available for new tasks`,
};

function memoryFilter(bytes: number): Filter {
  return {
    name: 'memory',
    capacity: true,
    check: (node) => node.available.memoryBytes >= bytes,
    explain: (n) => `insufficient memory on ${countNodes(n)}`,
  };
}

function cpuFilter(nanoCpus: number): Filter {
  return {
    name: 'cpu',
    capacity: true,
    check: (node) => node.available.nanoCpus >= nanoCpus,
    explain: (n) => `insufficient cpu on ${countNodes(n)}`,
  };
}

function constraintFilter(expressions: readonly string[]): Filter {
  const constraints = parseConstraints(expressions);
  return {
    name: 'constraints',
    capacity: false,
    check: (node) => matchesConstraints(node.node, constraints),
    explain: (n) => `scheduling constraints not satisfied on ${countNodes(n)}`,
  };
}

function maxReplicasFilter(serviceId: string, maxReplicas: number): Filter {
  return {
    name: 'max-replicas',
    capacity: true,
    check: (node) => node.activeTasksOfService(serviceId) < maxReplicas,
    explain: (n) => `max replicas per node reached on ${countNodes(n)}`,
  };
}

/**
 * Host-mode ports are answered by the one task holding them on a node (a task that stops still
 * holds them), and ports published as 0 need free ones in the node's dynamic range.
 */
function hostPortFilter(task: Task, keys: readonly string[]): Filter {
  const dynamic = hasDynamicHostPorts(task);
  return {
    name: 'host-port',
    capacity: true,
    check: (node) => !keys.some((key) => node.hostPortInUse(key)) && (!dynamic || withDynamicHostPorts(task.endpoint!, node) !== undefined),
    explain: (n) => `host-mode port already in use on ${countNodes(n)}`,
  };
}

/**
 * The filters a node must pass to take `task`, in the order rejections are attributed (each
 * rejected node is counted under the first filter it fails). Filters that cannot reject this task
 * (no reservations, no constraints, no replica limit, no host-mode port) are left out. Throws on an invalid constraint.
 */
export function filtersFor(task: Task): Filter[] {
  const filters = [ready, availability];
  const reserved = taskReservations(task);
  if (reserved.memoryBytes > 0) filters.push(memoryFilter(reserved.memoryBytes));
  if (reserved.nanoCpus > 0) filters.push(cpuFilter(reserved.nanoCpus));
  const placement = task.spec?.placement;
  if (placement !== undefined && placement.constraints.length > 0) filters.push(constraintFilter(placement.constraints));
  if (placement !== undefined && placement.maxReplicas > 0) filters.push(maxReplicasFilter(task.serviceId, placement.maxReplicas));
  const hostPorts = taskHostPorts(task);
  if (hostPorts.length > 0 || hasDynamicHostPorts(task)) filters.push(hostPortFilter(task, hostPorts));
  return filters;
}

export function passesAll(filters: readonly Filter[], node: NodeInfo): boolean {
  for (const filter of filters) if (!filter.check(node)) return false;
  return true;
}

/**
 * The PENDING message for a task no node took: each node is counted under the first filter it
 * fails, e.g. `no suitable node (insufficient memory on 2 nodes; scheduling constraints not satisfied on 1 node)`.
 */
export function explainRejections(filters: readonly Filter[], nodes: readonly NodeInfo[]): string {
  if (nodes.length === 0) return 'no suitable node (no nodes in the cluster)';
  const failures = new Map<Filter, number>();
  for (const node of nodes) {
    const failed = filters.find((f) => !f.check(node));
    if (failed !== undefined) failures.set(failed, (failures.get(failed) ?? 0) + 1);
  }
  const reasons = filters.filter((f) => failures.has(f)).map((f) => f.explain(failures.get(f)!));
  return reasons.length === 0 ? 'no suitable node' : `no suitable node (${reasons.join('; ')})`;
}
