/**
 * RuntimeExecutor: the agent's Executor on shoal's own container runtime. Each task is one
 * container named by the task id, run by `shoal-runtime` (src/runtime/shim) through
 * RuntimeContainer, from an image in the node's ImageStore.
 *
 * - prepare: the image from the store, pulled when missing (progress as status lines); the
 *   container's spec from the task and the image's defaults (container-spec.ts), checked, and kept
 *   with the layers it uses in the task's record, `<stateDir>/<task id>/task.json`.
 * - start: `shoal-runtime run --detach` of that spec, the bundle being the task's directory (its
 *   rootfs mount point, overlay upper and work, and log live there too); the healthcheck, if any,
 *   runs in a HealthMonitor through `shoal-runtime exec`. With the agent's `ContainerNetworking`,
 *   each container is created first (its init waits for `start`), connected (its overlay
 *   interfaces, the gateway bridge for egress and host-mode ports, VIPs), and only then started;
 *   its spec has the DNS relay and a read-only /etc/resolv.conf (task-networks.ts). Without it, a
 *   container has loopback only.
 * - wait, inspect: the runtime's files under its state root (the exit record carries the exit
 *   code and whether the OOM killer struck). A restarted worker finds its containers there, since
 *   their supervisors outlive it; a new HealthMonitor (STARTING) takes up a running container's
 *   healthcheck.
 * - shutdown: SIGTERM to the supervisor, which sends the stop signal and SIGKILLs after the stop
 *   timeout; we SIGKILL ourselves once the grace period asked for has passed.
 * - remove: the task's interfaces leave their sandboxes, then `delete --force` (state and
 *   cgroup), then the task's directory.
 *
 * The image store's gc spares every layer a task record names (`layersInUse`, its inUse hook).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { HealthState, type Task } from '../../../proto/gen/objects.js';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { readTextIfExists } from '../../common/read-if-exists.js';
import { containerSpecProblems, defaultRuntimePath, readContainerLog, RuntimeContainer, type ContainerSpec, type LogEntry } from '../../runtime/container/index.js';
import { HealthMonitor, probeWithRuntime, resolveHealthCheck, type HealthCheck, type HealthStatus } from '../../runtime/health/index.js';
import { ImageStore } from '../../runtime/image/image-store.js';
import type { RegistryClient } from '../../runtime/image/registry-client.js';
import type { Executor, PrepareProgress, TaskExit, TaskInspection, TaskLogOptions } from '../executor.js';
import type { ContainerAddress, ContainerNetworking, HostPortSpec, NetworkedContainer } from '../network/container-networking.js';
import { taskContainer, type ContainerSettings, type TaskPaths } from './container-spec.js';
import { ImagePuller } from './image-puller.js';
import { RESOLV_CONF, RESOLV_CONF_FILE, taskAddresses, taskHostPorts, withTaskDns } from './task-networks.js';

export const DEFAULT_LOG_MAX_SIZE_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 3;

export interface RuntimeExecutorOptions {
  /** One directory per task: bundle, rootfs mount point, overlay upper and work, log, record. */
  stateDir: string;
  /** The node's state directory whose `images/` is the image store (as `shoal image --state-dir`). */
  imageStateDir: string;
  /** shoal-runtime's state root (--root), which no other worker may share. */
  runtimeRoot: string;
  /** The shoal-runtime binary; dist/shim/shoal-runtime by default. */
  runtimePath?: string;
  /** Every container's cgroup is `<cgroupParent>/<task id>`. */
  cgroupParent: string;
  /** Each container's log rotates at this size (10 MiB) ... */
  logMaxSizeBytes?: number;
  /** ... keeping this many files (3). */
  logMaxFiles?: number;
  /** How images are fetched (retries, insecure registries); the image store's default otherwise. */
  registry?: RegistryClient;
  /** For healthchecks' timers and spacing pull progress. Default: the system clock. */
  clock?: Clock;
  /** How often wait() looks for an exit. Default 100 ms. */
  pollMs?: number;
}

/** What prepare decided, kept in the task's directory so start needs nothing else. */
interface TaskRecord {
  taskId: string;
  image: { reference: string; id: string; diffIds: string[] };
  spec: ContainerSpec;
  healthcheck?: HealthCheck;
  /** Task.networks as prepared: the container's interfaces, eth0 first. */
  networks?: ContainerAddress[];
  /** Its host-mode ports on this node: an interface on the gateway bridge, after the networks'. */
  hostPorts?: HostPortSpec[];
}

const RECORD = 'task.json';
const NO_NETWORKING = 'the task is on overlay networks or publishes host-mode ports, but this worker has no network agent';
/** How often shutdown looks whether the container has gone: stopping should be prompt. */
const SHUTDOWN_POLL_MS = 10;
/** A name the runtime takes as a container id and we as a directory: no '/', no leading '.' or '-'. */
const TASK_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const HEALTH: Record<HealthStatus, HealthState> = {
  starting: HealthState.HEALTH_STATE_STARTING,
  healthy: HealthState.HEALTH_STATE_HEALTHY,
  unhealthy: HealthState.HEALTH_STATE_UNHEALTHY,
};

export class RuntimeExecutor implements Executor {
  readonly images: ImageStore;
  private readonly puller: ImagePuller;
  private readonly runtime: { runtimePath: string; root: string };
  private readonly settings: ContainerSettings;
  private readonly clock: Clock;
  private readonly records = new Map<string, TaskRecord>();
  private readonly monitors = new Map<string, HealthMonitor>();
  private networking: ContainerNetworking | undefined;

  constructor(private readonly opts: RuntimeExecutorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.images = new ImageStore(opts.imageStateDir, { client: opts.registry, inUse: () => layersInUse(opts.stateDir), owner: 'shoal worker' });
    this.puller = new ImagePuller(this.images, () => this.clock.now());
    this.runtime = { runtimePath: opts.runtimePath ?? defaultRuntimePath(), root: opts.runtimeRoot };
    this.settings = {
      cgroupParent: opts.cgroupParent,
      logMaxSizeBytes: opts.logMaxSizeBytes ?? DEFAULT_LOG_MAX_SIZE_BYTES,
      logMaxFiles: opts.logMaxFiles ?? DEFAULT_LOG_MAX_FILES,
    };
  }

  /** The agent's networking, which tasks on overlay networks need; the agent gives it before any task. */
  useNetworking(networking: ContainerNetworking): void {
    this.networking = networking;
  }

  async prepare(task: Task, progress?: PrepareProgress): Promise<void> {
    const id = taskIdOf(task);
    const paths = this.pathsOf(id);
    if (await this.readRecord(id)) return;
    const reference = task.spec?.container?.image ?? '';
    if (reference === '') throw new Error('the task names no image');
    const networks = taskAddresses(task);
    const hostPorts = taskHostPorts(task);
    if (networks.length + hostPorts.length > 0 && !this.networking) throw new Error(NO_NETWORKING);
    const image = await this.puller.get(reference, progress);
    const built = taskContainer(task, { layerDirs: image.layerDirs, defaults: image.config }, paths, this.settings);
    const { healthcheck } = built;
    const resolvConf = join(paths.dir, RESOLV_CONF_FILE);
    // Every container the agent networks gets its DNS: the cluster's names on its networks, and
    // other names forwarded to the node's nameservers (a container on no network still has egress).
    const spec = this.networking ? withTaskDns(built.spec, this.networking.dnsSocket, resolvConf) : built.spec;
    const problems = containerSpecProblems(spec);
    if (problems.length > 0) throw new Error(`invalid container: ${problems.join('; ')}`);
    if (healthcheck) resolveHealthCheck(healthcheck); // throws on a malformed test
    const record: TaskRecord = {
      taskId: id,
      image: { reference, id: image.id, diffIds: image.layerDirs.map(diffIdOfLayerDir) },
      spec,
      ...(healthcheck ? { healthcheck } : {}),
      ...(networks.length > 0 ? { networks } : {}),
      ...(hostPorts.length > 0 ? { hostPorts } : {}),
    };
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    if (this.networking) await writeFile(resolvConf, RESOLV_CONF, { mode: 0o644 });
    await writeFileAtomic(join(paths.dir, RECORD), JSON.stringify(record));
    this.records.set(id, record);
  }

  async start(task: Task): Promise<void> {
    const id = taskIdOf(task);
    const record = await this.readRecord(id);
    if (!record) throw new Error(`task ${id} was not prepared`);
    const existing = this.attach(id);
    if (existing) {
      // Left as it is, unless an interrupted start left it created but not started.
      if (!existing.exit() && (await existing.state()).status === 'created') {
        await this.connect(record, existing);
        await existing.start();
      }
    } else {
      // The runtime makes its root's last directory only.
      await mkdir(this.runtime.root, { recursive: true, mode: 0o700 });
      if (this.networking) {
        // Its init waits before exec until `start`: the program starts on its networks.
        const container = await RuntimeContainer.create(id, this.pathsOf(id).dir, record.spec, this.runtime);
        await this.connect(record, container);
        await container.start();
      } else {
        await RuntimeContainer.run(id, this.pathsOf(id).dir, record.spec, this.runtime);
      }
    }
    this.watchHealth(record);
  }

  /** Puts a created container on its networks; one that cannot be is deleted, so nothing claims to run. */
  private async connect(record: TaskRecord, container: RuntimeContainer): Promise<void> {
    const networked = this.networked(record, container);
    if (!networked) return;
    try {
      await this.networking!.connect(networked);
    } catch (err) {
      await container.delete({ force: true }).catch(() => undefined);
      throw err;
    }
  }

  private networked(record: TaskRecord, container: RuntimeContainer): NetworkedContainer | undefined {
    if (!this.networking) {
      if (record.networks?.length || record.hostPorts?.length) throw new Error(NO_NETWORKING);
      return undefined;
    }
    return { taskId: record.taskId, netns: `/proc/${container.initPid}/ns/net`, networks: record.networks ?? [], hostPorts: record.hostPorts ?? [] };
  }

  async wait(task: Task, signal?: AbortSignal): Promise<TaskExit> {
    const id = taskIdOf(task);
    const container = this.attach(id);
    if (!container) return { exitCode: -1, error: 'the runtime has no record of its container' };
    try {
      const exit = await container.wait({ pollMs: this.opts.pollMs ?? 100, signal });
      this.stopHealth(id);
      return exit.oomKilled ? { exitCode: exit.exitCode, oomKilled: true } : { exitCode: exit.exitCode };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      this.stopHealth(id);
      return { exitCode: -1, error: messageOf(err) };
    }
  }

  async shutdown(task: Task, graceMs: number): Promise<void> {
    const id = taskIdOf(task);
    this.stopHealth(id);
    const container = this.attach(id);
    if (!container || ended(container)) return;
    container.stop();
    const deadline = Date.now() + graceMs;
    while (!ended(container) && Date.now() < deadline) await delay(SHUTDOWN_POLL_MS);
    if (ended(container)) return;
    // It may end between the look and the kill; the runtime then says it is not running.
    await container.kill('KILL').catch(() => undefined);
    while (!ended(container)) await delay(SHUTDOWN_POLL_MS);
  }

  async remove(task: Task): Promise<void> {
    const id = taskIdOf(task);
    this.stopHealth(id);
    const container = this.attach(id);
    const record = await this.readRecord(id);
    const networked = container && record && this.networking ? this.networked(record, container) : undefined;
    if (networked) await this.networking!.disconnect(networked);
    // The task should be stopped first; whatever still runs is killed rather than leaked. A
    // create that died before the runtime recorded the container (a worker killed mid-start)
    // left a directory and maybe a cgroup that only the runtime's force delete knows of.
    if (container) await container.delete({ force: true });
    else if (existsSync(join(this.runtime.root, id))) await RuntimeContainer.forceDelete(id, this.runtime);
    await rm(this.pathsOf(id).dir, { recursive: true, force: true });
    this.records.delete(id);
  }

  async health(task: Task): Promise<HealthState> {
    const id = taskIdOf(task);
    const record = await this.readRecord(id);
    if (!record?.healthcheck) return HealthState.HEALTH_STATE_NONE;
    let monitor = this.monitors.get(id);
    if (!monitor) {
      // A container found running after a restart gets a new monitor here if inspect did not start one.
      const container = this.attach(id);
      if (container && !ended(container)) monitor = this.watchHealth(record);
    }
    return monitor ? HEALTH[monitor.report().status] : HealthState.HEALTH_STATE_STARTING;
  }

  /** The shim's own log of the container (JSON lines, rotated), read in place. */
  logs(task: Task, options: TaskLogOptions, signal: AbortSignal): AsyncIterable<LogEntry> {
    return readContainerLog(this.pathsOf(task.meta?.id ?? '').log, options, signal);
  }

  async inspect(taskId: string): Promise<TaskInspection | undefined> {
    if (!TASK_ID.test(taskId)) return undefined;
    const container = this.attach(taskId);
    const record = await this.readRecord(taskId);
    if (!container) return record ? { running: false } : undefined;
    const pid = container.initPid;
    const exit = container.exit();
    if (exit) return { running: false, pid, exitCode: exit.exitCode, ...(exit.oomKilled ? { oomKilled: true } : {}) };
    if (container.supervisorAlive()) {
      if (record) {
        this.watchHealth(record);
        // Found running by a new agent: its networking knows it again (DNS, VIP updates).
        const networked = this.networking ? this.networked(record, container) : undefined;
        if (networked) this.networking!.adopt(networked);
      }
      return { running: true, pid };
    }
    // It may have recorded its exit between the two looks.
    const late = container.exit();
    return late ? { running: false, pid, exitCode: late.exitCode, ...(late.oomKilled ? { oomKilled: true } : {}) } : { running: false, pid };
  }

  /** Stops the healthchecks (their timers and probes); the containers go on. For a worker that exits. */
  close(): void {
    for (const id of [...this.monitors.keys()]) this.stopHealth(id);
  }

  private attach(id: string): RuntimeContainer | undefined {
    return RuntimeContainer.attach(id, this.runtime);
  }

  /** The task's HealthMonitor, started if need be; undefined when the task has no healthcheck. */
  private watchHealth(record: TaskRecord): HealthMonitor | undefined {
    const id = record.taskId;
    const running = this.monitors.get(id);
    if (running || !record.healthcheck) return running;
    const monitor = new HealthMonitor({
      check: record.healthcheck,
      probe: probeWithRuntime(this.runtime.runtimePath, this.runtime.root, id),
      clock: this.clock,
    });
    this.monitors.set(id, monitor);
    monitor.start();
    return monitor;
  }

  private stopHealth(id: string): void {
    this.monitors.get(id)?.stop();
    this.monitors.delete(id);
  }

  private pathsOf(id: string): TaskPaths {
    if (!TASK_ID.test(id)) throw new Error(`unusable task id ${JSON.stringify(id)}`);
    const dir = join(this.opts.stateDir, id);
    return { dir, rootfs: join(dir, 'rootfs'), upper: join(dir, 'upper'), work: join(dir, 'work'), log: join(dir, 'container.log') };
  }

  private async readRecord(id: string): Promise<TaskRecord | undefined> {
    const record = this.records.get(id) ?? (await readRecord(this.pathsOf(id).dir));
    if (record) this.records.set(id, record);
    return record;
  }
}

/**
 * The DiffIDs of every layer the tasks under `stateDir` (a RuntimeExecutor's) use, prepared or
 * running: an ImageStore's `inUse`, in the worker or in any other process sharing its images.
 */
export async function layersInUse(stateDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records = await Promise.all(names.filter((n) => TASK_ID.test(n)).map((n) => readRecord(join(stateDir, n))));
  return [...new Set(records.flatMap((r) => r?.image.diffIds ?? []))];
}

async function readRecord(taskDir: string): Promise<TaskRecord | undefined> {
  const text = await readTextIfExists(join(taskDir, RECORD));
  return text === undefined ? undefined : (JSON.parse(text) as TaskRecord);
}

/** The container has exited, or its supervisor is gone (so it cannot be running). */
function ended(container: RuntimeContainer): boolean {
  return container.exit() !== undefined || !container.supervisorAlive();
}

/** The image store unpacks each layer into `layers/<hex of its DiffID>`. */
function diffIdOfLayerDir(dir: string): string {
  return `sha256:${dir.slice(dir.lastIndexOf('/') + 1)}`;
}

function taskIdOf(task: Task): string {
  return task.meta?.id ?? '';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
