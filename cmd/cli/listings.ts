/**
 * The tables `service ls`/`stack services` and the task listings (`service ps`, `stack ps`,
 * `node ps`, `task ls`) print, shared by their command groups.
 */
import type { ListServicesResponse } from '../../proto/gen/control.js';
import { PublishMode, type Node, type Task } from '../../proto/gen/objects.js';
import { formatPorts } from './ports.js';
import { ellipsis, renderTable, shortId } from './table.js';
import { nodeHostname, serviceName, taskName, taskProblem, taskStateTitle } from './task-view.js';
import { ago } from './units.js';

/**
 * ID NAME MODE REPLICAS IMAGE PORTS, REPLICAS as running/desired; PORTS the ingress ports, as the
 * manager allocated them (the spec's before it has).
 */
export function servicesTable(list: ListServicesResponse): string {
  const rows = list.services.map((service) => {
    const id = service.meta!.id;
    const mode = service.spec?.mode;
    const maxPerNode = service.spec?.task?.placement?.maxReplicas ?? 0;
    const replicas =
      `${list.runningTasks[id] ?? 0}/${list.desiredTasks[id] ?? 0}` + (maxPerNode > 0 ? ` (max ${maxPerNode} per node)` : '');
    const ports = service.endpoint?.ports.length ? service.endpoint.ports : (service.spec?.endpoint?.ports ?? []);
    const ingress = ports.filter((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS);
    return [shortId(id), serviceName(service), mode?.$case ?? '', replicas, service.spec?.task?.container?.image ?? '', formatPorts(ingress)];
  });
  return renderTable(['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'], rows);
}

/** Docker's ERROR column is quoted and cut to 30 characters unless --no-trunc. */
const MAX_ERROR_LENGTH = 30;

/**
 * ID NAME IMAGE NODE DESIRED STATE CURRENT STATE ERROR PORTS, as `docker service ps` and
 * `docker node ps` print them. Tasks come grouped by service and slot (node, for global services),
 * newest first; older generations of a slot are indented as `\_ web.1`. NODE is the hostname (the
 * short id of a node that is gone). PORTS: the task's host-mode ports (ingress ports are the service's,
 * shown by `service ls`).
 */
export function tasksTable(tasks: readonly Task[], nodes: readonly Node[], now: number, noTrunc: boolean): string {
  const hostnames = new Map(nodes.map((n) => [n.meta!.id, nodeHostname(n)]));
  let previousGroup = '';
  const rows = sortTasks(tasks).map((task) => {
    const group = slotGroup(task);
    const name = group === previousGroup ? ` \\_ ${taskName(task)}` : taskName(task);
    previousGroup = group;
    const state = task.status?.state ?? 0;
    const current = `${taskStateTitle(state)} ${ago(task.status?.timestamp ?? 0, now)}`.trimEnd();
    const problem = taskProblem(task).replace(/\n/g, ' ');
    return [
      shortId(task.meta!.id, noTrunc),
      name,
      task.spec?.container?.image ?? '',
      task.nodeId === '' ? '' : (hostnames.get(task.nodeId) || shortId(task.nodeId, noTrunc)),
      taskStateTitle(task.desiredState),
      current,
      problem === '' ? '' : `"${noTrunc ? problem : ellipsis(problem, MAX_ERROR_LENGTH)}"`,
      formatPorts((task.endpoint?.ports ?? []).filter((p) => p.publishMode === PublishMode.PUBLISH_MODE_HOST)),
    ];
  });
  return renderTable(['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'], rows);
}

function slotGroup(task: Task): string {
  return `${task.serviceAnnotations?.name ?? task.serviceId}\u0000${task.serviceId}\u0000${task.slot > 0 ? task.slot : task.nodeId}`;
}

function sortTasks(tasks: readonly Task[]): Task[] {
  return [...tasks].sort((a, b) => {
    const byService = compare(a.serviceAnnotations?.name ?? '', b.serviceAnnotations?.name ?? '') || compare(a.serviceId, b.serviceId);
    if (byService !== 0) return byService;
    const bySlot = a.slot > 0 || b.slot > 0 ? a.slot - b.slot : compare(a.nodeId, b.nodeId);
    if (bySlot !== 0) return bySlot;
    return (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0) || compare(b.meta?.id ?? '', a.meta?.id ?? '');
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
