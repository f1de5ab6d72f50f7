export { createControlService, type ControlServiceDeps } from './control-service.js';
export { ControlError, toGrpcStatus } from './control-errors.js';
export { validateServiceSpec, InvalidSpecError } from './validate-spec.js';
export { validateNodeSpec } from './validate-node-spec.js';
export { sameServiceSpec } from './spec-equality.js';
export { DEFAULT_RESTART_POLICY, DEFAULT_ROLLBACK_CONFIG, DEFAULT_STOP_GRACE_PERIOD_MS, DEFAULT_UPDATE_CONFIG } from './spec-defaults.js';
