/**
 * Docker's defaults for the spec parts a service may leave out. The control API fills them in at
 * create time; the loops apply them again so that a spec written by any other path behaves alike.
 */
import type { RestartPolicy, Service, TaskSpec, UpdateConfig } from '../../../proto/gen/objects.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_ROLLBACK_CONFIG, DEFAULT_UPDATE_CONFIG } from '../controlapi/spec-defaults.js';

export function restartPolicyOf(spec: TaskSpec | undefined): Readonly<RestartPolicy> {
  return spec?.restart ?? DEFAULT_RESTART_POLICY;
}

export function updateConfigOf(service: Service): Readonly<UpdateConfig> {
  return service.spec?.update ?? DEFAULT_UPDATE_CONFIG;
}

export function rollbackConfigOf(service: Service): Readonly<UpdateConfig> {
  return service.spec?.rollback ?? DEFAULT_ROLLBACK_CONFIG;
}
