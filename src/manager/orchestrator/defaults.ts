/**
 * Docker's defaults for the spec parts a service may leave out. The control API fills them in at
 * create time; the loops apply them again so that a spec written by any other path behaves alike.
 */
import {
  RestartCondition,
  UpdateFailureAction,
  UpdateOrder,
  type RestartPolicy,
  type Service,
  type TaskSpec,
  type UpdateConfig,
} from '../../../proto/gen/objects.js';

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = {
  condition: RestartCondition.RESTART_CONDITION_ANY,
  delayMs: 5_000,
  maxAttempts: 0,
  windowMs: 0,
};

export const DEFAULT_UPDATE_CONFIG: Readonly<UpdateConfig> = {
  parallelism: 1,
  delayMs: 0,
  failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  monitorMs: 5_000,
  maxFailureRatio: 0,
  order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
};

/** Default number of finished tasks kept per slot when the cluster object says nothing. */
export const DEFAULT_TASK_HISTORY_RETENTION = 5;

export function restartPolicyOf(spec: TaskSpec | undefined): Readonly<RestartPolicy> {
  return spec?.restart ?? DEFAULT_RESTART_POLICY;
}

export function updateConfigOf(service: Service): Readonly<UpdateConfig> {
  return service.spec?.update ?? DEFAULT_UPDATE_CONFIG;
}

export function rollbackConfigOf(service: Service): Readonly<UpdateConfig> {
  return service.spec?.rollback ?? DEFAULT_UPDATE_CONFIG;
}
