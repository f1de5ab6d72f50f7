/**
 * What the node tells the managers about itself at every registration: hostname, platform (as
 * docker reports it: `linux`, and the machine as uname says it, e.g. `x86_64`), CPUs and memory,
 * and its labels (docker's engine labels, matched by `engine.labels.*` constraints).
 */
import { cpus, hostname, machine, totalmem } from 'node:os';
import type { NodeDescription, Platform, Resources } from '../../proto/gen/objects.js';

export interface DescriptionOverrides {
  hostname?: string;
  labels?: Record<string, string>;
  resources?: Resources;
  platform?: Platform;
}

export function hostDescription(overrides: DescriptionOverrides = {}): NodeDescription {
  return {
    hostname: overrides.hostname ?? hostname(),
    platform: overrides.platform ?? { os: process.platform, architecture: machine() },
    resources: overrides.resources ?? { nanoCpus: Math.max(1, cpus().length) * 1e9, memoryBytes: totalmem() },
    labels: { ...overrides.labels },
  };
}
