/**
 * RuntimeExecutor with real containers (needs root): the base image pulled from a local registry,
 * containers run by dist/shim/shoal-runtime under a cgroup parent of this test's own, every task
 * removed after its test and the parent removed at the end, so nothing is left: no container, no
 * process, no cgroup, no directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HealthState, PortProtocol, PublishMode, Task, TaskState, TaskStatus, type ContainerSpec as TaskContainerSpec, type Resources } from '../../../proto/gen/objects.js';
import { systemClock } from '../../common/clock.js';
import { newId } from '../../common/ids.js';
import { silentLogger } from '../../common/logger.js';
import { readTextIfExists } from '../../common/read-if-exists.js';
import { isAlive } from '../../common/proc-stat.js';
import { cgroupDirs, readCgroupLayout } from '../../runtime/cgroups/index.js';
import { removeTestCgroups, testCgroupName } from '../../runtime/cgroups/testing/test-cgroups.js';
import { defaultRuntimePath, RuntimeContainer, type ContainerSpec } from '../../runtime/container/index.js';
import { RegistryClient } from '../../runtime/image/registry-client.js';
import { OCI_MANIFEST } from '../../runtime/image/media-types.js';
import { LocalRegistry } from '../../runtime/image/testing/local-registry.js';
import { pushBlob, pushManifest } from '../../runtime/image/testing/push.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { REPO_ROOT } from '../../../test/support/daemon-process.js';
import type { ContainerNetworking } from '../network/container-networking.js';
import { exitError, TaskController } from '../task-controller.js';
import { RuntimeExecutor, type RuntimeExecutorOptions } from './runtime-executor.js';

const runtimePath = defaultRuntimePath();
const cgroupName = testCgroupName();
let registry: LocalRegistry;
let work: string;
let options: RuntimeExecutorOptions;
let executor: RuntimeExecutor;
let image: string;
const tasks: Task[] = [];

beforeAll(async () => {
  // `make test` builds it; a missing or stale binary would test the wrong program.
  const shim = join(REPO_ROOT, 'src', 'runtime', 'shim');
  const sources = readdirSync(shim).filter((f) => /\.[ch]$/.test(f));
  if (!existsSync(runtimePath) || sources.some((f) => statSync(join(shim, f)).mtimeMs > statSync(runtimePath).mtimeMs)) {
    throw new Error(`${runtimePath} is missing or older than its sources: run 'bash src/runtime/shim/build.sh'`);
  }
  registry = await LocalRegistry.start();
  await registry.pushBaseImage('1.0');
  image = `${registry.host}/busybox:1.0`;
  work = await mkdtemp(join(tmpdir(), 'shoal-runtime-executor-'));
  options = {
    stateDir: join(work, 'containers'),
    imageStateDir: join(work, 'node'),
    runtimeRoot: join(work, 'run', 'shoal', 'runtime'), // the runtime makes only the last directory
    cgroupParent: `/${cgroupName}/node-1`,
    registry: new RegistryClient(),
    pollMs: 20,
  };
  executor = new RuntimeExecutor(options);
});

afterEach(async () => {
  // A failed assertion must not leave a container behind.
  for (const t of tasks.splice(0)) await executor.remove(t);
});

afterAll(async () => {
  executor?.close();
  await removeTestCgroups(cgroupName);
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function task(container: Partial<TaskContainerSpec>, limits?: Partial<Resources>): Task {
  const t = Task.fromPartial({
    meta: { id: newId() },
    spec: { container: { image, ...container }, ...(limits ? { resources: { limits } } : {}) },
  });
  tasks.push(t);
  return t;
}

async function started(t: Task): Promise<number> {
  await executor.prepare(t);
  await executor.start(t);
  const info = await executor.inspect(t.meta!.id);
  expect(info).toMatchObject({ running: true });
  return info!.pid!;
}

/**
 * The base image again, as `busybox:TAG` whose config declares `healthcheck` (docker's
 * `Healthcheck` field: durations in nanoseconds): the same layers, a new config and manifest.
 */
async function pushImageWithHealthcheck(tag: string, healthcheck: Record<string, unknown>): Promise<string> {
  const get = async (path: string, accept = '*/*'): Promise<Buffer> => {
    const response = await fetch(`http://${registry.host}/v2/busybox/${path}`, { headers: { accept } });
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  };
  const manifest = JSON.parse((await get('manifests/1.0', OCI_MANIFEST)).toString('utf8')) as { config: { mediaType: string; digest: string } };
  const config = JSON.parse((await get(`blobs/${manifest.config.digest}`)).toString('utf8')) as { config?: Record<string, unknown> };
  const withCheck = Buffer.from(JSON.stringify({ ...config, config: { ...config.config, Healthcheck: healthcheck } }));
  const digest = await pushBlob(registry.host, 'busybox', withCheck);
  await pushManifest(registry.host, 'busybox', { ...manifest, config: { ...manifest.config, digest, size: withCheck.length } }, OCI_MANIFEST, tag);
  return `${registry.host}/busybox:${tag}`;
}

const logOf = async (t: Task): Promise<string> =>
  ((await readTextIfExists(join(options.stateDir, t.meta!.id, 'container.log'))) ?? '')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { log: string }).log)
    .join('');

describe('RuntimeExecutor', () => {
  it('pulls the image with progress, runs the task with the image’s settings under the service’s, and reports its exit code', async () => {
    const t = task({ args: ['sh', '-c', 'echo "$HOSTNAME $(hostname) $(pwd) $GREETING $PATH"; exit 3'], env: ['GREETING=hello'], dir: '/tmp' });
    const progress: string[] = [];
    await executor.prepare(t, (message) => progress.push(message));
    expect(progress[0]).toBe(`pulling ${image}`);
    expect(progress.at(-2)).toMatch(new RegExp(`^pulling ${image.replace(/\./g, '\\.')}: 1/1 layers, [0-9.]+ [kM]B$`));
    expect(progress.at(-1)).toBe(`unpacking ${image}: 1/1 layers`);
    await executor.start(t);
    expect(await executor.wait(t)).toEqual({ exitCode: 3 });
    const host = t.meta!.id.slice(0, 12);
    expect(await logOf(t)).toBe(`${host} ${host} /tmp hello /usr/sbin:/usr/bin:/sbin:/bin\n`);
    expect(await executor.inspect(t.meta!.id)).toMatchObject({ running: false, exitCode: 3 });
    expect(await executor.health(t)).toBe(HealthState.HEALTH_STATE_NONE);

    // A second task of the image does not pull it again; without a command it runs the image's
    // Cmd, /bin/sh, which ends at once on its empty input.
    const again = task({});
    const quiet: string[] = [];
    await executor.prepare(again, (message) => quiet.push(message));
    expect(quiet).toEqual([]);
    await executor.start(again);
    expect(await executor.wait(again)).toEqual({ exitCode: 0 });
  });

  it('runs the task as the user it names, looked up in the image', async () => {
    const t = task({ args: ['sh', '-c', 'id -u; id -g'], user: 'nobody' });
    await started(t);
    expect(await executor.wait(t)).toEqual({ exitCode: 0 });
    expect(await logOf(t)).toBe('65534\n65534\n');
  });

  it('is idempotent: preparing, starting and inspecting again find the same container', async () => {
    const t = task({ args: ['sleep', '1000'] });
    const pid = await started(t);
    await executor.prepare(t);
    await executor.start(t);
    expect(await executor.inspect(t.meta!.id)).toEqual({ running: true, pid });
    await executor.shutdown(t, 200);
    await executor.shutdown(t, 200);
    expect(await executor.inspect(t.meta!.id)).toMatchObject({ running: false, pid, exitCode: 137 });
  });

  it('completes a start that was interrupted after the container was created', async () => {
    const t = task({ args: ['sh', '-c', 'exit 5'] });
    await executor.prepare(t);
    const id = t.meta!.id;
    const { spec } = JSON.parse(await readFile(join(options.stateDir, id, 'task.json'), 'utf8')) as { spec: ContainerSpec };
    const created = await RuntimeContainer.create(id, join(options.stateDir, id), spec, { runtimePath, root: options.runtimeRoot });
    await executor.start(t);
    expect(await executor.wait(t)).toEqual({ exitCode: 5 });
    expect(await executor.inspect(id)).toMatchObject({ running: false, pid: created.initPid, exitCode: 5 });
  });

  it('reports a task killed for exceeding its memory limit as out of memory', async () => {
    // tail keeps the whole "line" of /dev/zero in memory.
    const t = task({ args: ['tail', '/dev/zero'] }, { memoryBytes: 8 * 1024 * 1024 });
    await started(t);
    const exit = await executor.wait(t);
    expect(exit).toEqual({ exitCode: 137, oomKilled: true });
    expect(exitError(exit)).toBe('task failed: exit code 137 (out of memory)');
    expect(await executor.inspect(t.meta!.id)).toMatchObject({ running: false, exitCode: 137, oomKilled: true });
  });

  it('stops a task with its stop signal, and SIGKILLs one that ignores it once the grace period is over', async () => {
    // Each says when its trap is set: a signal before that would find no handler, which the
    // container's init (pid 1 in its namespace) ignores.
    const polite = task({ args: ['sh', '-c', 'trap "exit 7" USR1; echo ready; while :; do sleep 0.05; done'], stopSignal: 'SIGUSR1' });
    await started(polite);
    await waitFor('the trap', async () => (await logOf(polite)).includes('ready'));
    await executor.shutdown(polite, 30_000);
    expect(await executor.wait(polite)).toEqual({ exitCode: 7 });

    const stubborn = task({ args: ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'] });
    await started(stubborn);
    await waitFor('the trap', async () => (await logOf(stubborn)).includes('ready'));
    const before = Date.now();
    await executor.shutdown(stubborn, 300);
    expect(Date.now() - before).toBeGreaterThanOrEqual(300);
    expect(await executor.wait(stubborn)).toEqual({ exitCode: 137 });
  });

  it('removes everything a task had: its container, processes, cgroup and files', async () => {
    const t = task({ args: ['sh', '-c', 'sleep 1000 & sleep 1000'] });
    const pid = await started(t);
    const id = t.meta!.id;
    const cgroups = cgroupDirs(await readCgroupLayout(), `${options.cgroupParent}/${id}`).map((c) => c.dir);
    expect(cgroups.filter((dir) => existsSync(dir))).not.toEqual([]);
    await executor.shutdown(t, 200);
    await executor.remove(t);
    await executor.remove(t);
    expect(isAlive(pid)).toBe(false);
    expect(cgroups.filter((dir) => existsSync(dir))).toEqual([]);
    expect(existsSync(join(options.stateDir, id))).toBe(false);
    expect(existsSync(join(options.runtimeRoot, id))).toBe(false);
    expect(await executor.inspect(id)).toBeUndefined();
  });

  it('removes what a start killed half-way left: the runtime\'s directory and the cgroup, which no state names', async () => {
    const t = task({ args: ['sleep', '1000'] });
    const id = t.meta!.id;
    await executor.prepare(t);
    // The container's log as a FIFO no one reads: the create waits on it, half-way, until killed.
    const record = JSON.parse(await readFile(join(options.stateDir, id, 'task.json'), 'utf8')) as { spec: { log?: { path?: string } } };
    const log = record.spec.log?.path ?? join(options.stateDir, id, 'container.log');
    expect(spawnSync('mkfifo', [log]).status).toBe(0);
    const start = executor.start(t).then(
      () => 'started',
      (err: Error) => err.message,
    );
    const runtimeProcesses = (): number[] =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          let cmdline = '';
          try {
            cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
          } catch {
            // Gone meanwhile.
          }
          return cmdline.includes('shoal-runtime') && cmdline.includes(id);
        })
        .map(Number);
    await waitFor('the create to be under way', () => existsSync(join(options.runtimeRoot, id)) && runtimeProcesses().length > 0);
    const cgroups = cgroupDirs(await readCgroupLayout(), `${options.cgroupParent}/${id}`).map((c) => c.dir);
    for (const pid of runtimeProcesses()) process.kill(pid, 'SIGKILL');
    expect(await start).not.toBe('started');
    await waitFor('the runtime processes to be gone', () => runtimeProcesses().every((pid) => !isAlive(pid)));
    expect(RuntimeContainer.attach(id, { runtimePath: defaultRuntimePath(), root: options.runtimeRoot })).toBeUndefined();
    expect(existsSync(join(options.runtimeRoot, id))).toBe(true);

    await executor.remove(t);
    expect(existsSync(join(options.runtimeRoot, id))).toBe(false);
    expect(cgroups.filter((dir) => existsSync(dir))).toEqual([]);
    expect(existsSync(join(options.stateDir, id))).toBe(false);
  });

  it('turns a task with a healthcheck healthy once its check passes', async () => {
    const t = task({
      args: ['sh', '-c', 'sleep 0.3; touch /tmp/ready; sleep 1000'],
      healthcheck: { test: ['CMD-SHELL', 'test -f /tmp/ready'], intervalMs: 100, timeoutMs: 5_000, retries: 1, startPeriodMs: 0 },
    });
    await started(t);
    expect(await executor.health(t)).toBe(HealthState.HEALTH_STATE_STARTING);
    await waitFor('healthy', async () => (await executor.health(t)) === HealthState.HEALTH_STATE_HEALTHY);
    await executor.shutdown(t, 200);
  });

  it('keeps a task of an image with its own HEALTHCHECK STARTING until the check passes, then RUNNING; NONE in the spec turns it off', async () => {
    const checked = await pushImageWithHealthcheck('1.0-healthcheck', { Test: ['CMD-SHELL', 'test -f /tmp/ready'], Interval: 100e6, Timeout: 5e9, StartPeriod: 60e9, Retries: 1 });
    const run = (t: Task): { reports: TaskStatus[]; controller: TaskController } => {
      const reports: TaskStatus[] = [];
      const controller = new TaskController({ ...t, desiredState: TaskState.TASK_STATE_RUNNING }, TaskStatus.fromPartial({ state: TaskState.TASK_STATE_ASSIGNED }), {
        executor,
        report: (_id, status) => reports.push(status),
        clock: systemClock,
        now: Date.now,
        logger: silentLogger,
        healthPollMs: 50,
        retryMs: 1_000,
      });
      controller.start();
      return { reports, controller };
    };
    const last = (reports: TaskStatus[]): TaskState | undefined => reports.at(-1)?.state;

    // The service names no healthcheck: the image's runs, and the task is not RUNNING before it
    // passes, which it does once the test tells the container (SIGUSR1) to make its file.
    const gated = run(task({ image: checked, args: ['sh', '-c', 'trap "touch /tmp/ready" USR1; while true; do sleep 0.1; done'] }));
    const unchecked = run(task({ image: checked, args: ['sleep', '1000'], healthcheck: { test: ['NONE'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 } }));
    try {
      await waitFor('starting, health starting', () => gated.reports.at(-1)?.health === HealthState.HEALTH_STATE_STARTING);
      await new Promise((resolve) => setTimeout(resolve, 300)); // a few checks fail meanwhile
      expect(last(gated.reports)).toBe(TaskState.TASK_STATE_STARTING);
      process.kill(gated.controller.currentStatus.pid, 'SIGUSR1');
      await waitFor('running once healthy', () => last(gated.reports) === TaskState.TASK_STATE_RUNNING);
      const fromStart = gated.reports.slice(gated.reports.findIndex((r) => r.state === TaskState.TASK_STATE_STARTING)).map((r) => [r.state, r.health]);
      expect(fromStart).toEqual([
        [TaskState.TASK_STATE_STARTING, HealthState.HEALTH_STATE_NONE],
        [TaskState.TASK_STATE_STARTING, HealthState.HEALTH_STATE_STARTING],
        [TaskState.TASK_STATE_RUNNING, HealthState.HEALTH_STATE_HEALTHY],
      ]);

      await waitFor('running without a check', () => last(unchecked.reports) === TaskState.TASK_STATE_RUNNING);
      expect(unchecked.reports.at(-1)?.health).toBe(HealthState.HEALTH_STATE_NONE);
      expect(await executor.health(unchecked.controller.currentTask)).toBe(HealthState.HEALTH_STATE_NONE);
    } finally {
      // Stops their health polling; afterEach removes the containers. The image goes too, so that
      // its layers (the base image's) are not kept from a later test's gc.
      gated.controller.detach();
      unchecked.controller.detach();
      await executor.images.remove(checked);
    }
  });

  it('is found running, with the same pid, by a new executor on the same directories, which checks its health anew', async () => {
    const t = task({
      args: ['sleep', '1000'],
      healthcheck: { test: ['CMD', 'true'], intervalMs: 100, timeoutMs: 5_000, retries: 1, startPeriodMs: 0 },
    });
    const pid = await started(t);
    await waitFor('healthy', async () => (await executor.health(t)) === HealthState.HEALTH_STATE_HEALTHY);

    const restarted = new RuntimeExecutor(options);
    try {
      expect(await restarted.inspect(t.meta!.id)).toEqual({ running: true, pid });
      expect(await restarted.health(t)).toBe(HealthState.HEALTH_STATE_STARTING);
      await waitFor('healthy again', async () => (await restarted.health(t)) === HealthState.HEALTH_STATE_HEALTHY);
      await restarted.shutdown(t, 200);
      expect(await executor.wait(t)).toEqual({ exitCode: 137 });
    } finally {
      restarted.close();
    }
  });

  it('keeps the layers of its tasks from the image store’s gc until they are removed', async () => {
    const t = task({ args: ['true'] });
    await executor.prepare(t);
    const { layerDirs } = await executor.images.get(image);
    await executor.images.remove(image);
    expect((await executor.images.gc()).layers).toEqual([]);
    expect(layerDirs.every((dir) => existsSync(dir))).toBe(true);
    await executor.remove(t);
    expect((await executor.images.gc()).layers).toHaveLength(layerDirs.length);
    expect(layerDirs.some((dir) => existsSync(dir))).toBe(false);
  });

  it('refuses to prepare a task whose image the registry does not have', async () => {
    const t = task({ image: `${registry.host}/busybox:nope` });
    await expect(executor.prepare(t)).rejects.toMatchObject({ message: `image not found: ${registry.host}/busybox:nope` });
    expect(existsSync(join(options.stateDir, t.meta!.id))).toBe(false);
    expect(await executor.inspect(t.meta!.id)).toBeUndefined();
  });

  it('puts a task on its networks between create and start, with the DNS relay and a read-only resolv.conf (on no overlay network too); deletes a container that cannot be', async () => {
    const calls: string[] = [];
    let refuse = false;
    // A fake of the agent's networking: it records what it is asked and sees the container still waiting for start.
    const fakeNetworking: ContainerNetworking = {
      dnsSocket: join(work, 'fake-dns.sock'),
      connect: async (c) => {
        const state = await RuntimeContainer.attach(c.taskId, { runtimePath, root: options.runtimeRoot })!.state();
        const ports = c.hostPorts.map((p) => ` ${p.protocol}/${p.published}->${p.target}`).join('');
        calls.push(`connect ${c.netns} ${c.networks.map((n) => `${n.networkId}=${n.address}`).join(' ')}${ports} ${state.status}`);
        if (refuse) throw new Error('network net1 not set up on this node after 30 s');
      },
      adopt: (c) => void calls.push(`adopt ${c.taskId}`),
      disconnect: async (c) => void calls.push(`disconnect ${c.netns}`),
    };
    const networked = new RuntimeExecutor(options);
    networked.useNetworking(fakeNetworking);
    const onNetworks = (args: string[]): Task => {
      const t = task({ args });
      t.networks = [{ networkId: 'net1', address: '10.9.0.5/24', aliases: [] }, { networkId: 'net2', address: '10.8.0.5/24', aliases: [] }];
      return t;
    };

    const t = onNetworks(['sleep', '60']);
    await networked.prepare(t);
    await networked.start(t);
    const { pid } = (await networked.inspect(t.meta!.id))!;
    const netns = `/proc/${pid}/ns/net`;
    expect(calls).toEqual([`connect ${netns} net1=10.9.0.5/24 net2=10.8.0.5/24 created`, `adopt ${t.meta!.id}`]);
    const container = RuntimeContainer.attach(t.meta!.id, { runtimePath, root: options.runtimeRoot })!;
    expect((await container.state()).annotations?.['org.shoal.dns.relay']).toBe(fakeNetworking.dnsSocket);
    expect((await container.exec(['cat', '/etc/resolv.conf'])).stdout).toBe('nameserver 127.0.0.11\noptions ndots:0\n');
    expect((await container.exec(['sh', '-c', 'echo x > /etc/resolv.conf'])).exitCode).not.toBe(0);
    await networked.shutdown(t, 1_000);
    await networked.remove(t);
    expect(calls.at(-1)).toBe(`disconnect ${netns}`);

    // Host-mode ports alone: connected for the gateway bridge, with the DNS relay all the same (names
    // outside the cluster are forwarded for it).
    const hostOnly = task({ args: ['sleep', '60'] });
    hostOnly.endpoint = {
      spec: undefined,
      virtualIps: [],
      ports: [
        { protocol: PortProtocol.PORT_PROTOCOL_UDP, targetPort: 53, publishedPort: 5353, publishMode: PublishMode.PUBLISH_MODE_HOST },
        { protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 30080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
      ],
    };
    await networked.prepare(hostOnly);
    await networked.start(hostOnly);
    const hostPid = (await networked.inspect(hostOnly.meta!.id))!.pid;
    expect(calls.slice(-2)).toEqual([`connect /proc/${hostPid}/ns/net  udp/5353->53 created`, `adopt ${hostOnly.meta!.id}`]);
    const hostContainer = RuntimeContainer.attach(hostOnly.meta!.id, { runtimePath, root: options.runtimeRoot })!;
    expect((await hostContainer.state()).annotations?.['org.shoal.dns.relay']).toBe(fakeNetworking.dnsSocket);
    expect((await hostContainer.exec(['cat', '/etc/resolv.conf'])).stdout).toBe('nameserver 127.0.0.11\noptions ndots:0\n');
    await networked.shutdown(hostOnly, 1_000);
    await networked.remove(hostOnly);
    expect(calls.at(-1)).toBe(`disconnect /proc/${hostPid}/ns/net`);

    refuse = true;
    const late = onNetworks(['sleep', '60']);
    await networked.prepare(late);
    await expect(networked.start(late)).rejects.toThrow('network net1 not set up on this node after 30 s');
    expect(RuntimeContainer.attach(late.meta!.id, { runtimePath, root: options.runtimeRoot })).toBeUndefined();
    expect(await networked.inspect(late.meta!.id)).toEqual({ running: false });

    // Without networking, a task on networks is refused before anything is pulled or made.
    await expect(executor.prepare(onNetworks(['true']))).rejects.toThrow(/on overlay networks or publishes host-mode ports, but this worker has no network agent/);
  });
});
