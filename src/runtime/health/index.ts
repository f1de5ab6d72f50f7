export {
  DEFAULT_INTERVAL_MS,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  formatDuration,
  probeArgv,
  resolveHealthCheck,
  type HealthCheck,
  type HealthTest,
  type ResolvedHealthCheck,
} from './healthcheck.js';
export {
  capOutput,
  HealthMonitor,
  MAX_LOG_ENTRIES,
  MAX_OUTPUT_BYTES,
  timeoutResult,
  type HealthMonitorOptions,
  type HealthReport,
  type HealthResult,
  type HealthStatus,
  type Probe,
  type ProbeResult,
} from './monitor.js';
export { probeWithRuntime } from './runtime-probe.js';
