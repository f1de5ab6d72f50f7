/**
 * Service spec validation: every rule the control API enforces before a spec reaches the store,
 * and the docker defaults filled in where a whole part of the spec is absent. The first problem
 * found is thrown as an InvalidSpecError naming the field by its JSON path.
 */
import {
  RestartCondition,
  ServiceSpec,
  UpdateFailureAction,
  UpdateOrder,
  type Annotations,
  type ContainerSpec,
  type HealthConfig,
  type Placement,
  type ResourceRequirements,
  type Resources,
  type RestartPolicy,
  type UpdateConfig,
} from '../../../proto/gen/objects.js';
import { validateConstraint } from '../../scheduler/constraints.js';
import { validatePreference } from '../../scheduler/preferences.js';
import { imageReferenceProblem } from './image-reference.js';
import { InvalidSpecError } from './invalid-spec-error.js';
import { checkEndpointSpec } from './validate-endpoint.js';
import { isKnownSignal } from './signals.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_ROLLBACK_CONFIG, DEFAULT_STOP_GRACE_PERIOD_MS, DEFAULT_UPDATE_CONFIG } from './spec-defaults.js';
import { checkEnum, checkLabels, checkNonNegativeInteger } from './spec-checks.js';

export { InvalidSpecError } from './invalid-spec-error.js';

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_SERVICE_NAME_LENGTH = 63;
/** swarmkit's floors: below these a limit or reservation is almost certainly a unit mistake. */
const MIN_NANO_CPUS = 1_000_000;
const MIN_MEMORY_BYTES = 4 * 1024 * 1024;

/**
 * Returns a copy of `spec` with docker's defaults filled in where a whole part is absent (update
 * and rollback configs, restart policy, stop grace period), or throws InvalidSpecError.
 */
export function validateServiceSpec(spec: ServiceSpec): ServiceSpec {
  const checked = ServiceSpec.fromPartial(spec);
  checkServiceName(checked.annotations);
  checkLabels('annotations.labels', checked.annotations?.labels ?? {});
  checkContainer(checked.task?.container);
  if (checked.task?.resources) checkResources(checked.task.resources);
  if (checked.task?.restart) checkRestartPolicy(checked.task.restart);
  checkNonNegativeInteger('task.forceUpdate', checked.task?.forceUpdate ?? 0);
  checkMode(checked);
  if (checked.endpoint) checkEndpointSpec(checked.endpoint);
  if (checked.task?.placement) checkPlacement(checked.task.placement, checked.mode?.$case === 'global');
  if (checked.update) checkUpdateConfig('update', checked.update);
  if (checked.rollback) {
    checkUpdateConfig('rollback', checked.rollback);
    if (checked.rollback.failureAction === UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK) {
      throw new InvalidSpecError('rollback.failureAction', 'a rollback cannot itself roll back; use PAUSE or CONTINUE');
    }
  }
  return withDefaults(checked);
}

function checkServiceName(annotations: Annotations | undefined): void {
  const name = annotations?.name ?? '';
  if (name === '') throw new InvalidSpecError('annotations.name', 'required');
  if (name.length > MAX_SERVICE_NAME_LENGTH) {
    throw new InvalidSpecError('annotations.name', `"${name}": longer than ${MAX_SERVICE_NAME_LENGTH} characters`);
  }
  if (!SERVICE_NAME.test(name)) {
    throw new InvalidSpecError(
      'annotations.name',
      `"${name}": must start with a letter or digit and contain only letters, digits, '_', '.' and '-'`,
    );
  }
}

function checkContainer(container: ContainerSpec | undefined): void {
  const image = container?.image ?? '';
  if (image === '') throw new InvalidSpecError('task.container.image', 'required');
  const imageProblem = imageReferenceProblem(image);
  if (imageProblem !== undefined) throw new InvalidSpecError('task.container.image', imageProblem);
  if (container === undefined) return;
  container.env.forEach((entry, i) => {
    const eq = entry.indexOf('=');
    if (eq < 0) throw new InvalidSpecError(`task.container.env[${i}]`, `"${entry}": expected KEY=VALUE`);
    if (eq === 0) throw new InvalidSpecError(`task.container.env[${i}]`, `"${entry}": the variable name is empty`);
  });
  if (container.dir !== '' && !container.dir.startsWith('/')) {
    throw new InvalidSpecError('task.container.dir', `"${container.dir}": must be an absolute path`);
  }
  checkLabels('task.container.labels', container.labels);
  if (container.healthcheck) checkHealthcheck(container.healthcheck);
  if (container.stopSignal !== '' && !isKnownSignal(container.stopSignal)) {
    throw new InvalidSpecError('task.container.stopSignal', `"${container.stopSignal}": not a known signal name or number`);
  }
  checkNonNegativeInteger('task.container.stopGracePeriodMs', container.stopGracePeriodMs);
}

function checkHealthcheck(health: HealthConfig): void {
  const field = 'task.container.healthcheck';
  const [kind, ...rest] = health.test;
  switch (kind) {
    case undefined: // the image's own healthcheck
      break;
    case 'NONE':
      if (rest.length > 0) throw new InvalidSpecError(`${field}.test`, 'NONE takes no arguments');
      break;
    case 'CMD':
      if (rest.length === 0 || rest[0] === '') throw new InvalidSpecError(`${field}.test`, 'CMD needs a command to run');
      break;
    case 'CMD-SHELL':
      if (rest.length !== 1 || rest[0] === '') throw new InvalidSpecError(`${field}.test`, 'CMD-SHELL takes exactly one command string');
      break;
    default:
      throw new InvalidSpecError(`${field}.test[0]`, `"${kind}": must be NONE, CMD or CMD-SHELL`);
  }
  checkNonNegativeInteger(`${field}.intervalMs`, health.intervalMs);
  checkNonNegativeInteger(`${field}.timeoutMs`, health.timeoutMs);
  checkNonNegativeInteger(`${field}.retries`, health.retries);
  checkNonNegativeInteger(`${field}.startPeriodMs`, health.startPeriodMs);
}

function checkResources(resources: ResourceRequirements): void {
  const { limits, reservations } = resources;
  if (limits) checkResourceAmounts('task.resources.limits', limits);
  if (reservations) checkResourceAmounts('task.resources.reservations', reservations);
  if (!limits || !reservations) return;
  // A limit of 0 means unlimited, so any reservation fits under it.
  if (limits.nanoCpus > 0 && reservations.nanoCpus > limits.nanoCpus) {
    throw new InvalidSpecError(
      'task.resources.reservations.nanoCpus',
      `${reservations.nanoCpus} exceeds the limit ${limits.nanoCpus}`,
    );
  }
  if (limits.memoryBytes > 0 && reservations.memoryBytes > limits.memoryBytes) {
    throw new InvalidSpecError(
      'task.resources.reservations.memoryBytes',
      `${reservations.memoryBytes} exceeds the limit ${limits.memoryBytes}`,
    );
  }
}

function checkResourceAmounts(field: string, amounts: Resources): void {
  checkNonNegativeInteger(`${field}.nanoCpus`, amounts.nanoCpus);
  checkNonNegativeInteger(`${field}.memoryBytes`, amounts.memoryBytes);
  if (amounts.nanoCpus > 0 && amounts.nanoCpus < MIN_NANO_CPUS) {
    throw new InvalidSpecError(`${field}.nanoCpus`, `${amounts.nanoCpus}: must be at least ${MIN_NANO_CPUS} (0.001 CPU)`);
  }
  if (amounts.memoryBytes > 0 && amounts.memoryBytes < MIN_MEMORY_BYTES) {
    throw new InvalidSpecError(`${field}.memoryBytes`, `${amounts.memoryBytes}: must be at least ${MIN_MEMORY_BYTES} (4 MiB)`);
  }
}

function checkRestartPolicy(restart: RestartPolicy): void {
  checkEnum('task.restart.condition', RestartCondition, restart.condition);
  checkNonNegativeInteger('task.restart.delayMs', restart.delayMs);
  checkNonNegativeInteger('task.restart.maxAttempts', restart.maxAttempts);
  checkNonNegativeInteger('task.restart.windowMs', restart.windowMs);
}

function checkMode(spec: ServiceSpec): void {
  const mode = spec.mode;
  if (mode === undefined) throw new InvalidSpecError('mode', 'required: replicated or global');
  if (mode.$case === 'replicated') checkNonNegativeInteger('mode.replicated.replicas', mode.replicated.replicas);
}

function checkPlacement(placement: Placement, global: boolean): void {
  // The scheduler's parsers judge these, so a spec is accepted exactly when it can be scheduled;
  // their messages already quote the expression.
  placement.constraints.forEach((expr, i) => {
    const problem = validateConstraint(expr);
    if (problem !== undefined) throw new InvalidSpecError(`task.placement.constraints[${i}]`, problem);
  });
  placement.preferences.forEach((pref, i) => {
    const problem = validatePreference(pref);
    if (problem !== undefined) throw new InvalidSpecError(`task.placement.preferences[${i}].spread`, problem);
  });
  checkNonNegativeInteger('task.placement.maxReplicas', placement.maxReplicas);
  if (global && placement.maxReplicas > 0) {
    throw new InvalidSpecError('task.placement.maxReplicas', 'only replicated services can limit replicas per node');
  }
}

function checkUpdateConfig(field: 'update' | 'rollback', config: UpdateConfig): void {
  checkNonNegativeInteger(`${field}.parallelism`, config.parallelism);
  checkNonNegativeInteger(`${field}.delayMs`, config.delayMs);
  checkEnum(`${field}.failureAction`, UpdateFailureAction, config.failureAction);
  checkNonNegativeInteger(`${field}.monitorMs`, config.monitorMs);
  const ratio = config.maxFailureRatio;
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new InvalidSpecError(`${field}.maxFailureRatio`, `${ratio}: must be between 0 and 1`);
  }
  checkEnum(`${field}.order`, UpdateOrder, config.order);
}

function withDefaults(spec: ServiceSpec): ServiceSpec {
  // Validated above: task and container exist (the image is required).
  const task = spec.task!;
  const container = task.container!;
  return {
    ...spec,
    task: {
      ...task,
      container: {
        ...container,
        stopGracePeriodMs: container.stopGracePeriodMs === 0 ? DEFAULT_STOP_GRACE_PERIOD_MS : container.stopGracePeriodMs,
      },
      restart: task.restart ?? { ...DEFAULT_RESTART_POLICY },
    },
    update: spec.update ?? { ...DEFAULT_UPDATE_CONFIG },
    rollback: spec.rollback ?? { ...DEFAULT_ROLLBACK_CONFIG },
  };
}
