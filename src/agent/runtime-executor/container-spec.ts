/**
 * A task as the container the runtime runs: the service's container settings merged over the
 * image's defaults by docker's rules, on an overlay of the image's layers, in a cgroup under the
 * worker's parent, with its output in a rotated log.
 *
 * Docker's rules, as `docker service create` and `docker run` apply them:
 * - the program: a service `command` replaces the image's Entrypoint *and* its Cmd (docker run
 *   --entrypoint drops the image's CMD too); without one, the image's Entrypoint followed by the
 *   service's `args`, or by the image's Cmd when there are no args;
 * - the environment: PATH (docker's default) and HOSTNAME first, then the image's Env, then the
 *   service's, a later KEY replacing an earlier one in place;
 * - directory, user and stop signal: the service's when set, else the image's;
 * - the healthcheck: the service's, each unset (empty or zero) field taken from the image's;
 *   ["NONE"] turns it off;
 * - the hostname: the service's, else the first 12 characters of the task id (docker uses the
 *   container id's; the task id is ours).
 */
import type { Task } from '../../../proto/gen/objects.js';
import type { ContainerSpec } from '../../runtime/container/index.js';
import { probeArgv, type HealthCheck } from '../../runtime/health/index.js';
import { stopGraceMs } from '../executor.js';
import type { RuntimeConfig } from '../../runtime/image/image-config.js';

/** Where one task's files are: the bundle (config.json) is `dir` itself. */
export interface TaskPaths {
  dir: string;
  /** The empty directory the overlay is mounted on, inside the container's mount namespace. */
  rootfs: string;
  upper: string;
  work: string;
  log: string;
}

export interface ContainerSettings {
  /** The cgroup every container of this worker goes under: `<parent>/<task id>`. */
  cgroupParent: string;
  logMaxSizeBytes: number;
  logMaxFiles: number;
}

export interface ImageForTask {
  /** Bottom layer first, as the image store lists them. */
  layerDirs: string[];
  defaults: RuntimeConfig;
}

/** The container and, when it has one, the healthcheck a HealthMonitor runs in it. */
export interface TaskContainer {
  spec: ContainerSpec;
  healthcheck?: HealthCheck;
}

/** Docker's PATH for a Linux container whose image and service set none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const HOSTNAME_LENGTH = 12;

/** Throws when the task cannot become a container: it has no program to run. */
export function taskContainer(task: Task, image: ImageForTask, paths: TaskPaths, settings: ContainerSettings): TaskContainer {
  const taskId = task.meta?.id ?? '';
  const container = task.spec?.container;
  const limits = task.spec?.resources?.limits;
  const defaults = image.defaults;
  const hostname = container?.hostname || taskId.slice(0, HOSTNAME_LENGTH);
  const spec: ContainerSpec = {
    rootfs: paths.rootfs,
    // overlayfs lists the top layer first.
    overlay: { lower: [...image.layerDirs].reverse(), upper: paths.upper, work: paths.work },
    args: commandLine(container?.command ?? [], container?.args ?? [], defaults),
    env: mergeEnv([`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`], defaults.env, container?.env ?? []),
    hostname,
    cwd: workingDir(container?.dir || defaults.workingDir),
    stopTimeoutSeconds: Math.ceil(stopGraceMs(task) / 1000),
    log: { path: paths.log, maxSizeBytes: settings.logMaxSizeBytes, maxFiles: settings.logMaxFiles },
    cgroupsPath: `${settings.cgroupParent.replace(/\/+$/, '')}/${taskId}`,
  };
  const user = container?.user || defaults.user;
  if (user) spec.user = user;
  const stopSignal = container?.stopSignal || defaults.stopSignal;
  if (stopSignal) spec.stopSignal = stopSignal;
  if (limits?.memoryBytes) spec.memoryBytes = limits.memoryBytes;
  if (limits?.nanoCpus) spec.nanoCpus = limits.nanoCpus;
  const healthcheck = mergeHealthcheck(container?.healthcheck, defaults.healthcheck);
  return healthcheck ? { spec, healthcheck } : { spec };
}

/** The program and its arguments (see the rules above). */
export function commandLine(command: string[], args: string[], image: Pick<RuntimeConfig, 'entrypoint' | 'cmd'>): string[] {
  const argv = command.length > 0 ? [...command, ...args] : [...image.entrypoint, ...(args.length > 0 ? args : image.cmd)];
  if (argv.length === 0) throw new Error('no command specified: the image has no Entrypoint or Cmd and the service gives no command or args');
  return argv;
}

/** The lists in order, a later KEY replacing an earlier one where it stood. */
export function mergeEnv(...lists: string[][]): string[] {
  const merged = new Map<string, string>();
  for (const entry of lists.flat()) {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    merged.set(key, entry);
  }
  return [...merged.values()];
}

/** The service's healthcheck with its unset fields from the image's; undefined when none runs. */
export function mergeHealthcheck(service: HealthCheck | undefined, image: HealthCheck | undefined): HealthCheck | undefined {
  const check: HealthCheck | undefined = !service
    ? image
    : {
        test: service.test.length > 0 ? service.test : (image?.test ?? []),
        intervalMs: service.intervalMs || image?.intervalMs,
        timeoutMs: service.timeoutMs || image?.timeoutMs,
        startPeriodMs: service.startPeriodMs || image?.startPeriodMs,
        retries: service.retries || image?.retries,
      };
  return check && probeArgv(check.test) ? check : undefined;
}

/** An image's WorkingDir may be relative (to /), as docker takes it. */
function workingDir(dir: string): string {
  if (dir === '') return '/';
  return dir.startsWith('/') ? dir : `/${dir}`;
}
