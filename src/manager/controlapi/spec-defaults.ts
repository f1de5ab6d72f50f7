/**
 * Docker's defaults for the parts of a service spec an operator may leave out. The control API
 * fills them in when it accepts a spec, so what is stored (and shown by `service inspect`) is what
 * the orchestrators act on.
 */
import {
  RestartCondition,
  UpdateFailureAction,
  UpdateOrder,
  type RestartPolicy,
  type UpdateConfig,
} from '../../../proto/gen/objects.js';

export const DEFAULT_UPDATE_CONFIG: Readonly<UpdateConfig> = Object.freeze({
  parallelism: 1,
  delayMs: 0,
  failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  monitorMs: 5_000,
  maxFailureRatio: 0,
  order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
});

/** Docker uses the same defaults for rolling back as for updating. */
export const DEFAULT_ROLLBACK_CONFIG: Readonly<UpdateConfig> = DEFAULT_UPDATE_CONFIG;

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  condition: RestartCondition.RESTART_CONDITION_ANY,
  delayMs: 5_000,
  maxAttempts: 0,
  windowMs: 0,
});

export const DEFAULT_STOP_GRACE_PERIOD_MS = 10_000;
