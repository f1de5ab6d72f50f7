/**
 * `service inspect --pretty`, `node inspect --pretty` and `task inspect --pretty`: the human-readable
 * forms, as docker prints them.
 */
import type { ManagerStatus } from '../../proto/gen/control.js';
import {
  EndpointMode,
  HealthState,
  NodeRole,
  RestartCondition,
  TaskState,
  UpdateFailureAction,
  UpdateOrder,
  UpdateState,
  type Node,
  type Resources,
  type Service,
  type Task,
  type UpdateConfig,
} from '../../proto/gen/objects.js';
import { protocolName, publishModeName } from './ports.js';
import { availabilityTitle, nodeStateTitle, taskName, taskStateTitle } from './task-view.js';
import { ago, formatBytes, formatCpus, formatDuration } from './units.js';

type Row = [label: string, value: string, indent?: number];

function block(rows: readonly Row[]): string {
  return rows.map(([label, value, indent = 0]) => `${' '.repeat(indent)}${`${label}:`.padEnd(20 - indent)}${value}`.trimEnd()).join('\n') + '\n';
}

function labelRows(labels: Record<string, string> | undefined, indent: number): Row[] {
  return Object.entries(labels ?? {}).map(([k, v]) => [` ${k}`, v, indent] as Row);
}

const updateStateNames: Record<number, string> = {
  [UpdateState.UPDATE_STATE_UPDATING]: 'updating',
  [UpdateState.UPDATE_STATE_PAUSED]: 'paused',
  [UpdateState.UPDATE_STATE_COMPLETED]: 'completed',
  [UpdateState.UPDATE_STATE_ROLLBACK_STARTED]: 'rollback_started',
  [UpdateState.UPDATE_STATE_ROLLBACK_PAUSED]: 'rollback_paused',
  [UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED]: 'rollback_completed',
};

const failureActions: Record<number, string> = {
  [UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE]: 'pause',
  [UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE]: 'continue',
  [UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK]: 'rollback',
};

const restartConditions: Record<number, string> = {
  [RestartCondition.RESTART_CONDITION_ANY]: 'any',
  [RestartCondition.RESTART_CONDITION_ON_FAILURE]: 'on-failure',
  [RestartCondition.RESTART_CONDITION_NONE]: 'none',
};

function updateConfigRows(title: string, config: UpdateConfig | undefined): Row[] {
  if (!config) return [];
  return [
    [title, ''],
    ['Parallelism', String(config.parallelism), 1],
    ['Delay', formatDuration(config.delayMs), 1],
    ['On failure', failureActions[config.failureAction] ?? 'unknown', 1],
    ['Monitoring Period', formatDuration(config.monitorMs), 1],
    ['Max failure ratio', String(config.maxFailureRatio), 1],
    ['Update order', config.order === UpdateOrder.UPDATE_ORDER_START_FIRST ? 'start-first' : 'stop-first', 1],
  ];
}

function resourceRows(title: string, r: Resources | undefined): Row[] {
  if (!r || (r.nanoCpus === 0 && r.memoryBytes === 0)) return [];
  return [
    [title, '', 1],
    ...(r.nanoCpus > 0 ? [['CPU', formatCpus(r.nanoCpus), 2] as Row] : []),
    ...(r.memoryBytes > 0 ? [['Memory', formatBytes(r.memoryBytes), 2] as Row] : []),
  ];
}

/**
 * `networkNames` maps network ids to names for the Networks line (an id not in it is shown as is).
 */
export function prettyService(service: Service, networkNames: ReadonlyMap<string, string>, now: number): string {
  const spec = service.spec;
  const task = spec?.task;
  const container = task?.container;
  const status = service.updateStatus;
  const rows: Row[] = [
    ['ID', service.meta?.id ?? ''],
    ['Name', spec?.annotations?.name ?? ''],
  ];
  if (Object.keys(spec?.annotations?.labels ?? {}).length > 0) rows.push(['Labels', ''], ...labelRows(spec?.annotations?.labels, 0));
  if (spec?.mode?.$case === 'replicated') rows.push(['Service Mode', 'Replicated'], ['Replicas', String(spec.mode.replicated.replicas), 1]);
  else rows.push(['Service Mode', 'Global']);
  if (status && status.state !== UpdateState.UPDATE_STATE_UNKNOWN) {
    rows.push(['UpdateStatus', ''], ['State', updateStateNames[status.state] ?? 'unknown', 1]);
    if (status.startedAt > 0) rows.push(['Started', ago(status.startedAt, now), 1]);
    if (status.completedAt > 0) rows.push(['Completed', ago(status.completedAt, now), 1]);
    rows.push(['Message', status.message, 1]);
  }
  const placement = task?.placement;
  if (placement && (placement.constraints.length > 0 || placement.preferences.length > 0 || placement.maxReplicas > 0)) {
    rows.push(['Placement', '']);
    if (placement.constraints.length > 0) rows.push(['Constraints', `[${placement.constraints.join(' ')}]`, 1]);
    if (placement.preferences.length > 0) rows.push(['Preferences', placement.preferences.map((p) => `spread=${p.spread}`).join(', '), 1]);
    if (placement.maxReplicas > 0) rows.push(['Max Replicas Per Node', String(placement.maxReplicas), 1]);
  }
  rows.push(...updateConfigRows('UpdateConfig', spec?.update), ...updateConfigRows('RollbackConfig', spec?.rollback));
  rows.push(['ContainerSpec', ''], ['Image', container?.image ?? '', 1]);
  if (container?.command.length) rows.push(['Command', container.command.join(' '), 1]);
  if (container?.args.length) rows.push(['Args', container.args.join(' '), 1]);
  if (container?.env.length) rows.push(['Env', container.env.join(' '), 1]);
  if (container?.dir) rows.push(['Dir', container.dir, 1]);
  if (container?.user) rows.push(['User', container.user, 1]);
  if (container?.hostname) rows.push(['Hostname', container.hostname, 1]);
  if (Object.keys(container?.labels ?? {}).length > 0) rows.push(['Labels', '', 1], ...labelRows(container?.labels, 1));
  const health = container?.healthcheck;
  if (health && health.test.length > 0) {
    rows.push(['Healthcheck', health.test.join(' '), 1]);
    if (health.intervalMs > 0) rows.push(['Interval', formatDuration(health.intervalMs), 2]);
    if (health.timeoutMs > 0) rows.push(['Timeout', formatDuration(health.timeoutMs), 2]);
    if (health.retries > 0) rows.push(['Retries', String(health.retries), 2]);
    if (health.startPeriodMs > 0) rows.push(['Start Period', formatDuration(health.startPeriodMs), 2]);
  }
  if (container?.stopSignal) rows.push(['StopSignal', container.stopSignal, 1]);
  if (container?.stopGracePeriodMs) rows.push(['StopGracePeriod', formatDuration(container.stopGracePeriodMs), 1]);
  const resources = [...resourceRows('Reservations', task?.resources?.reservations), ...resourceRows('Limits', task?.resources?.limits)];
  if (resources.length > 0) rows.push(['Resources', ''], ...resources);
  const restart = task?.restart;
  if (restart) {
    rows.push(
      ['RestartPolicy', ''],
      ['Condition', restartConditions[restart.condition] ?? 'unknown', 1],
      ['Delay', formatDuration(restart.delayMs), 1],
      ['Max attempts', restart.maxAttempts === 0 ? 'unlimited' : String(restart.maxAttempts), 1],
      ['Window', restart.windowMs === 0 ? 'unbounded' : formatDuration(restart.windowMs), 1],
    );
  }
  rows.push(...endpointRows(service, networkNames));
  return block(rows);
}

/**
 * Networks, Endpoint Mode and Ports as docker shows them (the ports the manager allocated, else
 * the spec's), then the service's virtual IPs, one per network.
 */
function endpointRows(service: Service, networkNames: ReadonlyMap<string, string>): Row[] {
  const name = (id: string) => networkNames.get(id) ?? id;
  const rows: Row[] = [];
  const networks = service.spec?.task?.networks ?? [];
  if (networks.length > 0) rows.push(['Networks', networks.map((n) => name(n.target)).join(' ')]);
  rows.push(['Endpoint Mode', service.spec?.endpoint?.mode === EndpointMode.ENDPOINT_MODE_DNSRR ? 'dnsrr' : 'vip']);
  const ports = service.endpoint?.ports.length ? service.endpoint.ports : (service.spec?.endpoint?.ports ?? []);
  if (ports.length > 0) {
    rows.push(['Ports', '']);
    for (const port of ports) {
      rows.push(
        ['PublishedPort', port.publishedPort === 0 ? '(not allocated yet)' : String(port.publishedPort), 1],
        ['Protocol', protocolName(port.protocol), 2],
        ['TargetPort', String(port.targetPort), 2],
        ['PublishMode', publishModeName(port.publishMode), 2],
      );
    }
  }
  const vips = service.endpoint?.virtualIps ?? [];
  if (vips.length > 0) rows.push(['Virtual IPs', ''], ...vips.map((vip) => [name(vip.networkId), vip.address, 1] as Row));
  return rows;
}

export function prettyNode(node: Node, managerStatus: ManagerStatus | undefined): string {
  const d = node.description;
  const rows: Row[] = [
    ['ID', node.meta?.id ?? ''],
    ['Hostname', d?.hostname ?? ''],
  ];
  if (Object.keys(node.spec?.annotations?.labels ?? {}).length > 0) rows.push(['Labels', ''], ...labelRows(node.spec?.annotations?.labels, 0));
  rows.push(
    ['Status', ''],
    ['State', nodeStateTitle(node.status?.state ?? 0), 1],
    ...(node.status?.message ? [['Message', node.status.message, 1] as Row] : []),
    ['Availability', availabilityTitle(node.spec?.availability ?? 0), 1],
    ['Address', node.status?.addr ?? '', 1],
    ['Role', node.role === NodeRole.NODE_ROLE_MANAGER ? 'manager' : 'worker'],
  );
  if (managerStatus) {
    rows.push(
      ['Manager Status', ''],
      ['Address', managerStatus.addr, 1],
      ['Raft Status', managerStatus.reachability, 1],
      ['Leader', managerStatus.leader ? 'Yes' : 'No', 1],
      ['Suffrage', managerStatus.suffrage, 1],
    );
  }
  rows.push(['Platform', ''], ['Operating System', d?.platform?.os ?? '', 1], ['Architecture', d?.platform?.architecture ?? '', 1]);
  if (d?.resources) rows.push(['Resources', ''], ['CPUs', formatCpus(d.resources.nanoCpus), 1], ['Memory', formatBytes(d.resources.memoryBytes), 1]);
  if (Object.keys(d?.labels ?? {}).length > 0) rows.push(['Engine Labels', ''], ...labelRows(d?.labels, 0));
  return block(rows);
}

const healthWords: Record<number, string> = {
  [HealthState.HEALTH_STATE_STARTING]: 'starting',
  [HealthState.HEALTH_STATE_HEALTHY]: 'healthy',
  [HealthState.HEALTH_STATE_UNHEALTHY]: 'unhealthy',
};

/** A wall-clock timestamp as `2024-05-01T10:00:00.000Z (5 minutes ago)`. */
function when(timestampMs: number, now: number): string {
  return timestampMs > 0 ? `${new Date(timestampMs).toISOString()} (${ago(timestampMs, now)})` : '';
}

/**
 * A task: where it runs, what it was asked to be and what it is, with the worker's report (message,
 * error, exit code, container, health). `nodeHostname` is empty for a node that is unknown or gone.
 */
export function prettyTask(task: Task, nodeHostname: string, now: number): string {
  const status = task.status;
  const container = task.spec?.container;
  const serviceName = task.serviceAnnotations?.name ?? '';
  const rows: Row[] = [
    ['ID', task.meta?.id ?? ''],
    ['Name', taskName(task)],
    ['Service', serviceName === '' ? task.serviceId : `${serviceName} (${task.serviceId})`],
  ];
  if (task.slot > 0) rows.push(['Slot', String(task.slot)]);
  rows.push(['Node', task.nodeId === '' ? 'not assigned' : nodeHostname === '' ? task.nodeId : `${nodeHostname} (${task.nodeId})`]);
  rows.push(['Desired State', taskStateTitle(task.desiredState)]);
  rows.push(['Status', ''], ['State', taskStateTitle(status?.state ?? 0), 1]);
  if (status?.timestamp) rows.push(['Since', when(status.timestamp, now), 1]);
  if (status?.message) rows.push(['Message', status.message, 1]);
  if (status?.err) rows.push(['Error', status.err, 1]);
  // A running container has no exit code yet; one that ran and stopped may have exited 0.
  if (status && (status.exitCode !== 0 || (status.containerId !== '' && status.state > TaskState.TASK_STATE_RUNNING))) {
    rows.push(['Exit Code', String(status.exitCode), 1]);
  }
  if (status?.containerId) rows.push(['Container ID', status.containerId, 1]);
  if (status?.pid) rows.push(['PID', String(status.pid), 1]);
  const health = healthWords[status?.health ?? HealthState.HEALTH_STATE_NONE];
  if (health !== undefined) rows.push(['Health', health, 1]);
  rows.push(['ContainerSpec', ''], ['Image', container?.image ?? '', 1]);
  if (container?.command.length) rows.push(['Command', container.command.join(' '), 1]);
  if (container?.args.length) rows.push(['Args', container.args.join(' '), 1]);
  rows.push(['Spec Version', String(task.specVersion)]);
  if (task.meta?.createdAt) rows.push(['Created', when(task.meta.createdAt, now)]);
  if (task.meta?.updatedAt) rows.push(['Updated', when(task.meta.updatedAt, now)]);
  return block(rows);
}
