export { checkContainerSpec, containerSpecProblems, InvalidContainerSpecError, type BindMount, type ContainerSpec, type LogSettings, type OverlayLayers, type Ulimit } from './config.js';
export { readContainerLog, readLogEntries, readRotatedLogEntries, streamText, type LogEntry, type LogReadOptions } from './logs.js';
export { ANNOTATIONS, buildOciConfig, renderOciConfig, type BuildOptions } from './oci/build-config.js';
export type { OciConfig } from './oci/types.js';
export { readRootFiles, type RootView } from './root-file.js';
export {
  DEFAULT_STATE_ROOT,
  defaultRuntimePath,
  RuntimeContainer,
  type ContainerExit,
  type OciState,
  type RuntimeOptions,
} from './runtime-container.js';
export { runtimeExec, type ExecOptions, type ExecResult, type ExecTarget } from './runtime-exec.js';
export { resolveUser, UserLookupError, type ContainerUser } from './user.js';
