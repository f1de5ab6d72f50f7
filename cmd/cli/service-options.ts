/**
 * The flags of `service create` and `service update`, and how they become a ServiceSpec. Create
 * builds a spec from nothing; update applies the flags given to the spec read from the manager.
 * Parts the flags do not mention stay absent on create, so that the manager fills in docker's
 * defaults; a flag that touches a part starts it from those defaults.
 */
import {
  HealthConfig,
  RestartCondition,
  ServiceSpec,
  UpdateFailureAction,
  UpdateOrder,
  type ContainerSpec,
  type Placement,
  type ResourceRequirements,
  type Resources,
  type RestartPolicy,
  type TaskSpec,
  type UpdateConfig,
} from '../../proto/gen/objects.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_ROLLBACK_CONFIG, DEFAULT_UPDATE_CONFIG } from '../../src/manager/controlapi/spec-defaults.js';
import { applyEndpointCreateFlags, applyEndpointUpdateFlags, endpointCreateFlags, endpointUpdateFlags, type NetworkIds } from './endpoint-options.js';
import { UsageError } from './errors.js';
import {
  choiceFlag,
  cpuFlag,
  durationFlag,
  envKey,
  memoryFlag,
  parseKeyValues,
  ratioFlag,
  resolveEnv,
  uintFlag,
} from './flag-values.js';
import type { FlagSpec, ParsedFlags } from './flags.js';
import { splitShellWords } from './shellwords.js';

type Env = Readonly<Record<string, string | undefined>>;

const detachFlag: FlagSpec = { name: 'detach', short: 'd', kind: 'bool', help: 'Exit immediately instead of waiting for the service to converge' };
const quietFlag: FlagSpec = { name: 'quiet', short: 'q', kind: 'bool', help: 'Suppress progress output' };

/** Flags that set one part of the spec, the same on create and update. */
const commonFlags: FlagSpec[] = [
  { name: 'replicas', kind: 'string', value: 'uint', help: 'Number of tasks (replicated mode)' },
  { name: 'workdir', short: 'w', kind: 'string', value: 'string', help: 'Working directory inside the container' },
  { name: 'user', short: 'u', kind: 'string', value: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'hostname', kind: 'string', value: 'string', help: 'Container hostname' },
  { name: 'health-cmd', kind: 'string', value: 'string', help: 'Command to run to check health (run by the shell)' },
  { name: 'health-interval', kind: 'string', value: 'duration', help: 'Time between running the check (ms|s|m|h)' },
  { name: 'health-timeout', kind: 'string', value: 'duration', help: 'Maximum time to allow one check to run (ms|s|m|h)' },
  { name: 'health-retries', kind: 'string', value: 'uint', help: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-period', kind: 'string', value: 'duration', help: 'Start period for the container to initialize before counting retries (ms|s|m|h)' },
  { name: 'no-healthcheck', kind: 'bool', help: 'Disable any container-specified HEALTHCHECK' },
  { name: 'stop-signal', kind: 'string', value: 'string', help: 'Signal to stop the container' },
  { name: 'stop-grace-period', kind: 'string', value: 'duration', help: 'Time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)' },
  { name: 'limit-cpu', kind: 'string', value: 'decimal', help: 'Limit CPUs' },
  { name: 'limit-memory', kind: 'string', value: 'bytes', help: 'Limit Memory' },
  { name: 'reserve-cpu', kind: 'string', value: 'decimal', help: 'Reserve CPUs' },
  { name: 'reserve-memory', kind: 'string', value: 'bytes', help: 'Reserve Memory' },
  { name: 'restart-condition', kind: 'string', value: 'string', help: 'Restart when condition is met ("none", "on-failure", "any") (default "any")' },
  { name: 'restart-delay', kind: 'string', value: 'duration', help: 'Delay between restart attempts (ns|us|ms|s|m|h) (default 5s)' },
  { name: 'restart-max-attempts', kind: 'string', value: 'uint', help: 'Maximum number of restarts before giving up (default 0: unlimited)' },
  { name: 'restart-window', kind: 'string', value: 'duration', help: 'Window used to evaluate the restart policy (ns|us|ms|s|m|h)' },
  { name: 'replicas-max-per-node', kind: 'string', value: 'uint', help: 'Maximum number of tasks per node (default 0 = unlimited)' },
  ...updateConfigFlags('update'),
  ...updateConfigFlags('rollback'),
];

function updateConfigFlags(kind: 'update' | 'rollback'): FlagSpec[] {
  const verb = kind === 'update' ? 'updated' : 'rolled back';
  const actions = kind === 'update' ? '"pause", "continue", "rollback"' : '"pause", "continue"';
  return [
    { name: `${kind}-parallelism`, kind: 'string', value: 'uint', help: `Maximum number of tasks ${verb} simultaneously (0 to ${kind === 'update' ? 'update' : 'roll back'} all at once) (default 1)` },
    { name: `${kind}-delay`, kind: 'string', value: 'duration', help: `Delay between ${kind === 'update' ? 'updates' : 'task rollbacks'} (ns|us|ms|s|m|h) (default 0s)` },
    { name: `${kind}-failure-action`, kind: 'string', value: 'string', help: `Action on ${kind} failure (${actions}) (default "pause")` },
    { name: `${kind}-monitor`, kind: 'string', value: 'duration', help: `Duration after each task ${kind} to monitor for failure (ns|us|ms|s|m|h) (default 5s)` },
    { name: `${kind}-max-failure-ratio`, kind: 'string', value: 'float', help: `Failure rate to tolerate during ${kind === 'update' ? 'an update' : 'a rollback'} (default 0)` },
    { name: `${kind}-order`, kind: 'string', value: 'string', help: `${kind === 'update' ? 'Update' : 'Rollback'} order ("start-first", "stop-first") (default "stop-first")` },
  ];
}

export const serviceCreateFlags: FlagSpec[] = [
  { name: 'name', kind: 'string', value: 'string', help: 'Service name' },
  { name: 'mode', kind: 'string', value: 'string', help: 'Service mode ("replicated" or "global") (default "replicated")' },
  { name: 'env', short: 'e', kind: 'list', value: 'list', help: 'Set environment variables' },
  { name: 'label', short: 'l', kind: 'list', value: 'list', help: 'Service labels' },
  { name: 'container-label', kind: 'list', value: 'list', help: 'Container labels' },
  { name: 'constraint', kind: 'list', value: 'list', help: 'Placement constraints' },
  { name: 'placement-pref', kind: 'list', value: 'pref', help: 'Add a placement preference (spread=node.labels.NAME)' },
  ...endpointCreateFlags,
  ...commonFlags,
  detachFlag,
  quietFlag,
];

export const serviceUpdateFlags: FlagSpec[] = [
  { name: 'image', kind: 'string', value: 'string', help: 'Service image tag' },
  { name: 'args', kind: 'string', value: 'command', help: 'Service command args' },
  { name: 'env-add', kind: 'list', value: 'list', help: 'Add or update an environment variable' },
  { name: 'env-rm', kind: 'list', value: 'list', help: 'Remove an environment variable' },
  { name: 'label-add', kind: 'list', value: 'list', help: 'Add or update a service label' },
  { name: 'label-rm', kind: 'list', value: 'list', help: 'Remove a label by its key' },
  { name: 'container-label-add', kind: 'list', value: 'list', help: 'Add or update a container label' },
  { name: 'container-label-rm', kind: 'list', value: 'list', help: 'Remove a container label by its key' },
  { name: 'constraint-add', kind: 'list', value: 'list', help: 'Add or update a placement constraint' },
  { name: 'constraint-rm', kind: 'list', value: 'list', help: 'Remove a constraint' },
  { name: 'placement-pref-add', kind: 'list', value: 'pref', help: 'Add a placement preference' },
  { name: 'placement-pref-rm', kind: 'list', value: 'pref', help: 'Remove a placement preference' },
  { name: 'force', kind: 'bool', help: 'Force update even if no changes require it' },
  ...endpointUpdateFlags,
  ...commonFlags,
  detachFlag,
  quietFlag,
];

const restartConditions = {
  any: RestartCondition.RESTART_CONDITION_ANY,
  'on-failure': RestartCondition.RESTART_CONDITION_ON_FAILURE,
  none: RestartCondition.RESTART_CONDITION_NONE,
};
const updateFailureActions = {
  pause: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  continue: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
  rollback: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK,
};
const rollbackFailureActions = {
  pause: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  continue: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
};
const updateOrders = { 'stop-first': UpdateOrder.UPDATE_ORDER_STOP_FIRST, 'start-first': UpdateOrder.UPDATE_ORDER_START_FIRST };

/**
 * `service create [OPTIONS] IMAGE [COMMAND] [ARG...]` as a spec. `randomSuffix` names an unnamed
 * service; `networks` holds the id of every network the flags name (endpoint-options.ts).
 */
export function specFromCreateFlags(flags: ParsedFlags, args: readonly string[], env: Env, randomSuffix: () => string, networks: NetworkIds): ServiceSpec {
  const [image, ...commandArgs] = args;
  if (image === undefined) throw new UsageError('requires at least 1 argument (IMAGE)');
  const modeName = flags.string('mode') ?? 'replicated';
  if (modeName !== 'replicated' && modeName !== 'global') throw new UsageError(`invalid value "${modeName}" for --mode: use replicated or global`);
  if (modeName === 'global' && flags.has('replicas')) throw new UsageError('--replicas can only be used with replicated mode');

  const mode: ServiceSpec['mode'] =
    modeName === 'global' ? { $case: 'global', global: {} } : { $case: 'replicated', replicated: { replicas: 1 } };
  const spec = ServiceSpec.fromPartial({
    annotations: { name: flags.string('name') ?? defaultServiceName(image, randomSuffix), labels: parseKeyValues(flags.list('label'), 'label') },
    task: {
      container: {
        image,
        args: commandArgs,
        env: resolveEnv(flags.list('env'), env, 'env'),
        labels: parseKeyValues(flags.list('container-label'), 'container-label'),
      },
    },
  });
  spec.mode = mode;
  const constraints = flags.list('constraint');
  const prefs = flags.list('placement-pref').map((p) => parsePlacementPref(p, 'placement-pref'));
  if (constraints.length > 0 || prefs.length > 0) {
    const placement = ensurePlacement(taskOf(spec));
    placement.constraints = constraints;
    placement.preferences = prefs;
  }
  applyEndpointCreateFlags(spec, taskOf(spec), flags, networks);
  applyCommonFlags(spec, flags);
  return spec;
}

/** The spec after `service update [OPTIONS] SERVICE`; `current` is not modified. `networks` as for create. */
export function applyUpdateFlags(current: ServiceSpec, flags: ParsedFlags, env: Env, networks: NetworkIds): ServiceSpec {
  const spec = ServiceSpec.fromPartial(current);
  const task = taskOf(spec);
  const container = containerOf(task);
  const image = flags.string('image');
  if (image !== undefined) container.image = image;
  const args = flags.string('args');
  if (args !== undefined) {
    try {
      container.args = splitShellWords(args);
    } catch (error) {
      throw new UsageError(`invalid value for --args: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  if (flags.has('env-add') || flags.has('env-rm')) {
    const added = resolveEnv(flags.list('env-add'), env, 'env-add');
    const drop = new Set([...flags.list('env-rm').map(envKey), ...added.map(envKey)]);
    container.env = [...container.env.filter((entry) => !drop.has(envKey(entry))), ...added];
  }
  spec.annotations ??= { name: '', labels: {} };
  spec.annotations.labels = updatedLabels(spec.annotations.labels, flags, 'label');
  container.labels = updatedLabels(container.labels, flags, 'container-label');

  if (flags.has('constraint-add') || flags.has('constraint-rm') || flags.has('placement-pref-add') || flags.has('placement-pref-rm')) {
    const placement = ensurePlacement(task);
    const removed = new Set(flags.list('constraint-rm'));
    const added = flags.list('constraint-add');
    placement.constraints = [...placement.constraints.filter((c) => !removed.has(c) && !added.includes(c)), ...added];
    const prefsRemoved = new Set(flags.list('placement-pref-rm').map((p) => parsePlacementPref(p, 'placement-pref-rm').spread));
    const prefsAdded = flags.list('placement-pref-add').map((p) => parsePlacementPref(p, 'placement-pref-add'));
    placement.preferences = [...placement.preferences.filter((p) => !prefsRemoved.has(p.spread)), ...prefsAdded];
  }

  if (flags.has('replicas') && spec.mode?.$case !== 'replicated') throw new UsageError('--replicas can only be used with replicated mode');
  if (flags.bool('force')) task.forceUpdate += 1;
  applyEndpointUpdateFlags(spec, task, flags, networks);
  applyCommonFlags(spec, flags);
  return spec;
}

function applyCommonFlags(spec: ServiceSpec, flags: ParsedFlags): void {
  const task = taskOf(spec);
  const container = containerOf(task);

  const replicas = uintFlag(flags, 'replicas');
  if (replicas !== undefined && spec.mode?.$case === 'replicated') spec.mode.replicated.replicas = replicas;
  const workdir = flags.string('workdir');
  if (workdir !== undefined) container.dir = workdir;
  const user = flags.string('user');
  if (user !== undefined) container.user = user;
  const hostname = flags.string('hostname');
  if (hostname !== undefined) container.hostname = hostname;
  const stopSignal = flags.string('stop-signal');
  if (stopSignal !== undefined) container.stopSignal = stopSignal;
  const grace = durationFlag(flags, 'stop-grace-period');
  if (grace !== undefined) container.stopGracePeriodMs = grace;

  applyHealthFlags(container, flags);
  applyResourceFlags(task, flags);
  applyRestartFlags(task, flags);

  const maxPerNode = uintFlag(flags, 'replicas-max-per-node');
  if (maxPerNode !== undefined) ensurePlacement(task).maxReplicas = maxPerNode;

  spec.update = applyUpdateConfigFlags(spec.update, DEFAULT_UPDATE_CONFIG, 'update', updateFailureActions, flags);
  spec.rollback = applyUpdateConfigFlags(spec.rollback, DEFAULT_ROLLBACK_CONFIG, 'rollback', rollbackFailureActions, flags);
}

const healthValueFlags = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period'];

function applyHealthFlags(container: ContainerSpec, flags: ParsedFlags): void {
  const touched = healthValueFlags.filter((name) => flags.has(name));
  if (flags.bool('no-healthcheck')) {
    if (touched.length > 0) throw new UsageError(`--no-healthcheck conflicts with --${touched[0]}`);
    container.healthcheck = HealthConfig.fromPartial({ test: ['NONE'] });
    return;
  }
  if (touched.length === 0) return;
  const health = (container.healthcheck ??= HealthConfig.fromPartial({}));
  const cmd = flags.string('health-cmd');
  if (cmd !== undefined) health.test = cmd === '' ? [] : ['CMD-SHELL', cmd];
  health.intervalMs = durationFlag(flags, 'health-interval') ?? health.intervalMs;
  health.timeoutMs = durationFlag(flags, 'health-timeout') ?? health.timeoutMs;
  health.retries = uintFlag(flags, 'health-retries') ?? health.retries;
  health.startPeriodMs = durationFlag(flags, 'health-start-period') ?? health.startPeriodMs;
}

function applyResourceFlags(task: TaskSpec, flags: ParsedFlags): void {
  const limitCpu = cpuFlag(flags, 'limit-cpu');
  const limitMemory = memoryFlag(flags, 'limit-memory');
  const reserveCpu = cpuFlag(flags, 'reserve-cpu');
  const reserveMemory = memoryFlag(flags, 'reserve-memory');
  if (limitCpu === undefined && limitMemory === undefined && reserveCpu === undefined && reserveMemory === undefined) return;
  const resources: ResourceRequirements = (task.resources ??= { limits: undefined, reservations: undefined });
  const set = (current: Resources | undefined, cpu: number | undefined, memory: number | undefined): Resources | undefined => {
    if (cpu === undefined && memory === undefined) return current;
    return { nanoCpus: cpu ?? current?.nanoCpus ?? 0, memoryBytes: memory ?? current?.memoryBytes ?? 0 };
  };
  resources.limits = set(resources.limits, limitCpu, limitMemory);
  resources.reservations = set(resources.reservations, reserveCpu, reserveMemory);
}

function applyRestartFlags(task: TaskSpec, flags: ParsedFlags): void {
  const condition = choiceFlag(flags, 'restart-condition', restartConditions);
  const delay = durationFlag(flags, 'restart-delay');
  const maxAttempts = uintFlag(flags, 'restart-max-attempts');
  const window = durationFlag(flags, 'restart-window');
  if (condition === undefined && delay === undefined && maxAttempts === undefined && window === undefined) return;
  const restart: RestartPolicy = (task.restart ??= { ...DEFAULT_RESTART_POLICY });
  restart.condition = condition ?? restart.condition;
  restart.delayMs = delay ?? restart.delayMs;
  restart.maxAttempts = maxAttempts ?? restart.maxAttempts;
  restart.windowMs = window ?? restart.windowMs;
}

function applyUpdateConfigFlags(
  current: UpdateConfig | undefined,
  defaults: Readonly<UpdateConfig>,
  kind: 'update' | 'rollback',
  actions: Readonly<Record<string, UpdateFailureAction>>,
  flags: ParsedFlags,
): UpdateConfig | undefined {
  const parallelism = uintFlag(flags, `${kind}-parallelism`);
  const delay = durationFlag(flags, `${kind}-delay`);
  const action = choiceFlag(flags, `${kind}-failure-action`, actions);
  const monitor = durationFlag(flags, `${kind}-monitor`);
  const ratio = ratioFlag(flags, `${kind}-max-failure-ratio`);
  const order = choiceFlag(flags, `${kind}-order`, updateOrders);
  if ([parallelism, delay, action, monitor, ratio, order].every((v) => v === undefined)) return current;
  const base = current ?? defaults;
  return {
    parallelism: parallelism ?? base.parallelism,
    delayMs: delay ?? base.delayMs,
    failureAction: action ?? base.failureAction,
    monitorMs: monitor ?? base.monitorMs,
    maxFailureRatio: ratio ?? base.maxFailureRatio,
    order: order ?? base.order,
  };
}

function updatedLabels(labels: Record<string, string>, flags: ParsedFlags, flag: 'label' | 'container-label'): Record<string, string> {
  const out = { ...labels };
  for (const key of flags.list(`${flag}-rm`)) delete out[key];
  return { ...out, ...parseKeyValues(flags.list(`${flag}-add`), `${flag}-add`) };
}

/** `spread=node.labels.zone`; spread is the only strategy, as in docker. */
export function parsePlacementPref(text: string, flag: string): { spread: string } {
  const eq = text.indexOf('=');
  const strategy = eq < 0 ? text : text.slice(0, eq);
  if (strategy !== 'spread' || eq < 0 || text.slice(eq + 1) === '') {
    throw new UsageError(`invalid value "${text}" for --${flag}: use spread=ATTRIBUTE, e.g. spread=node.labels.zone`);
  }
  return { spread: text.slice(eq + 1) };
}

/** The image's last path component and a random suffix: `nginx:1.25` → `nginx-k3x9a2`. */
function defaultServiceName(image: string, randomSuffix: () => string): string {
  const base = image.split('@')[0]!.split('/').at(-1)!.split(':')[0]!.replace(/[^a-zA-Z0-9_.-]/g, '') || 'service';
  return `${base}-${randomSuffix()}`;
}

function taskOf(spec: ServiceSpec): TaskSpec {
  return (spec.task ??= { container: undefined, resources: undefined, restart: undefined, placement: undefined, forceUpdate: 0, networks: [] });
}

function containerOf(task: TaskSpec): ContainerSpec {
  return (task.container ??= {
    image: '',
    command: [],
    args: [],
    env: [],
    dir: '',
    user: '',
    hostname: '',
    labels: {},
    healthcheck: undefined,
    stopSignal: '',
    stopGracePeriodMs: 0,
  });
}

function ensurePlacement(task: TaskSpec): Placement {
  return (task.placement ??= { constraints: [], preferences: [], maxReplicas: 0 });
}
