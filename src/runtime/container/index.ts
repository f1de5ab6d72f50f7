export { renderShimConfig, type ContainerSpec, type ShimFiles } from './config.js';
export { readLogEntries, streamText, type LogEntry } from './logs.js';
export { defaultShimPath, ShimContainer, type StartOptions } from './shim.js';
