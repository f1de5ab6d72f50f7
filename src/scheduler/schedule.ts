import { HealthState, TaskState, type Task } from '../../proto/gen/objects.js';
import { explainRejections, filtersFor, passesAll, type Filter } from './filters.js';
import { hasDynamicHostPorts, withDynamicHostPorts } from './host-ports.js';
import type { NodeAttribute } from './node-attributes.js';
import type { NodeInfo } from './node-info.js';
import { PlacementTree, parseSpread } from './preferences.js';

export const assignedMessage = 'scheduler assigned task to node';

export interface PlacementPlan {
  /** `task` is the assigned version to write: nodeId set, status ASSIGNED, meta.version still the one read. */
  assigned: { task: Task; nodeId: string }[];
  /** Tasks no node can take now, with the PENDING message saying why. */
  unschedulable: { task: Task; message: string }[];
}

/**
 * Decides where each task goes. Pure and deterministic for a given input; it records every
 * assignment on the NodeInfos (so later tasks see earlier choices, and the caller's view stays
 * current). Tasks that already name a node (global services) go first, to that node or nowhere;
 * the others are grouped by service and placement needs, and each group filters the nodes once.
 * `now` is the wall-clock timestamp written into assigned tasks' status.
 */
export function planPlacements(nodes: readonly NodeInfo[], tasks: readonly Task[], now: number = Date.now()): PlacementPlan {
  const plan: PlacementPlan = { assigned: [], unschedulable: [] };
  const needsCache = new Map<string, GroupNeeds | Error>();
  const needsOf = (key: string, task: Task): GroupNeeds | Error => {
    let needs = needsCache.get(key);
    if (needs === undefined) {
      needs = attempt(() => placementNeeds(task));
      needsCache.set(key, needs);
    }
    return needs;
  };

  const groups = new Map<string, Task[]>();
  const preassigned: { task: Task; key: string }[] = [];
  for (const task of tasks) {
    const key = groupKey(task);
    if (task.nodeId !== '') {
      preassigned.push({ task, key });
      continue;
    }
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [task]);
    else group.push(task);
  }

  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const { task, key } of preassigned) {
    const needs = needsOf(key, task);
    const node = byId.get(task.nodeId);
    if (needs instanceof Error) plan.unschedulable.push({ task, message: needs.message });
    else if (node === undefined) plan.unschedulable.push({ task, message: `no suitable node (node ${task.nodeId} is not in the cluster)` });
    else if (passesAll(needs.filters, node)) assign(plan, task, node, now);
    else plan.unschedulable.push({ task, message: explainRejections(needs.filters, [node]) });
  }

  for (const [key, group] of groups) placeGroup(plan, nodes, group, needsOf(key, group[0]!), now);
  return plan;
}

function placeGroup(plan: PlacementPlan, nodes: readonly NodeInfo[], group: readonly Task[], needs: GroupNeeds | Error, now: number): void {
  if (needs instanceof Error) {
    for (const task of group) plan.unschedulable.push({ task, message: needs.message });
    return;
  }
  const { filters, spreads } = needs;
  // Filters that look at the node alone cannot change verdict during a plan: apply them once.
  const nodeFilters = filters.filter((f) => !f.capacity);
  const capacityFilters = filters.filter((f) => f.capacity);
  const eligible = nodes.filter((n) => passesAll(nodeFilters, n));
  const tree = new PlacementTree(group[0]!.serviceId, spreads, eligible, (n) => passesAll(capacityFilters, n));

  let message: string | undefined;
  for (const task of group) {
    const node = message === undefined ? tree.placeNext((n) => assign(plan, task, n, now)) : undefined;
    if (node !== undefined) continue;
    // Once a task of the group fits nowhere, none of the identical ones after it will.
    message ??= explainRejections(filters, nodes);
    plan.unschedulable.push({ task, message });
  }
}

interface GroupNeeds {
  filters: Filter[];
  spreads: NodeAttribute[];
}

/** What a task asks of its node; throws when its placement is invalid (the control API should have refused it). */
function placementNeeds(task: Task): GroupNeeds {
  const spreads = (task.spec?.placement?.preferences ?? []).map((p) => parseSpread(p.spread));
  return { filters: filtersFor(task), spreads };
}

function assign(plan: PlacementPlan, task: Task, node: NodeInfo, now: number): void {
  const status = task.status;
  // Built field by field: this runs once per placement, and TaskStatus.fromPartial is much slower.
  const assigned: Task = {
    ...task,
    nodeId: node.id,
    ...(hasDynamicHostPorts(task) ? { endpoint: withDynamicHostPorts(task.endpoint!, node) } : {}),
    status: {
      state: TaskState.TASK_STATE_ASSIGNED,
      timestamp: now,
      message: assignedMessage,
      err: status?.err ?? '',
      exitCode: status?.exitCode ?? 0,
      health: status?.health ?? HealthState.HEALTH_STATE_NONE,
      containerId: status?.containerId ?? '',
      pid: status?.pid ?? 0,
    },
  };
  node.addTask(assigned);
  plan.assigned.push({ task: assigned, nodeId: node.id });
}

/** Tasks with the same key are interchangeable to the scheduler: same service, same placement needs. */
function groupKey(task: Task): string {
  const spec = task.spec;
  const reservations = spec?.resources?.reservations;
  const placement = spec?.placement;
  return [
    task.serviceId,
    reservations?.nanoCpus ?? 0,
    reservations?.memoryBytes ?? 0,
    placement?.maxReplicas ?? 0,
    placement?.constraints.join('\u0000') ?? '',
    placement?.preferences.map((p) => p.spread).join('\u0000') ?? '',
  ].join('\u0001');
}

function attempt<T>(fn: () => T): T | Error {
  try {
    return fn();
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
