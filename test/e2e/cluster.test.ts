/**
 * Issue 6's proof, end to end: a cluster from deploy/local-suite.cluster.sh (three managers, two
 * workers, each in its own network namespace, a two-second heartbeat), real containers of the
 * cluster registry's busybox, and everything driven and read through the real CLI. The suites
 * share the one cluster and run in order; each removes its services and waits for their
 * containers to be gone, so the next starts clean. Needs root and a build (`npm run build`,
 * `bash src/runtime/shim/build.sh`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readProcStat } from '../../src/common/proc-stat.js';
import { localClusterSuite } from '../support/local-cluster-suite.js';
import { isRunnable, isRunning, type ServiceJson, type TaskJson } from '../support/task-json.js';
import { waitFor } from '../support/wait-for.js';

const NAME = 'e2e';
/**
 * Two seconds, not one: a worker's restart (SIGTERM, then a new process up to its new session)
 * takes 3-4 s on a loaded two-core machine, mostly Node's start, and a node is declared down after
 * three periods without a heartbeat; at one second the restarted worker would lose its tasks.
 */
const HEARTBEAT_MS = 2000;
/** Polling the CLI: each call is a Node process of its own, so there is no point going faster. */
const POLL_MS = 100;
/** Only stops a broken step from hanging; the cluster normally converges in seconds. */
const CONVERGE_MS = 60_000;
/** Stops at once on SIGTERM, so that no stop waits for the grace period. */
const SLEEPER = ['sh', '-c', 'trap "exit 0" TERM; sleep 100000 & wait'];

interface E2eTask extends TaskJson {
  spec?: { container?: { image?: string; args?: string[]; env?: string[]; healthcheck?: { test?: string[] } } };
  status?: TaskJson['status'] & { timestamp?: string; pid?: number; health?: string; containerId?: string };
}

interface NodeJson {
  meta?: { id?: string };
  description?: { hostname?: string };
  spec?: { availability?: string };
  status?: { state?: string };
  managerStatus?: { leader?: boolean; reachability?: string };
}

/** A container's main process: its pid and start time, so that a reused pid is not mistaken for it. */
interface Proc {
  pid: number;
  startTime: number;
}

const suite = localClusterSuite({ name: NAME, managers: 3, workers: 2, heartbeatPeriod: `${HEARTBEAT_MS}ms` });

const json = <T>(...args: string[]): Promise<T> => suite.cluster.json<T>(...args);

const tasksOf = (service: string): Promise<E2eTask[]> => json<E2eTask[]>('service', 'ps', service);
const nodes = (): Promise<NodeJson[]> => json<NodeJson[]>('node', 'ls');
async function service(name: string): Promise<ServiceJson> {
  return (JSON.parse(await suite.cluster.shoalOk('service', 'inspect', name)) as ServiceJson[])[0]!;
}

async function nodeByName(hostname: string): Promise<NodeJson> {
  const node = (await nodes()).find((n) => n.description?.hostname === hostname);
  if (!node) throw new Error(`no node ${hostname}`);
  return node;
}

async function nodeId(hostname: string): Promise<string> {
  return (await nodeByName(hostname)).meta!.id!;
}

/** When the worker gave the task its current state (ms since the epoch). */
const timestampOf = (t: E2eTask): number => Number(t.status?.timestamp ?? 0);

function procOf(task: E2eTask): Proc {
  const pid = task.status?.pid ?? 0;
  const stat = pid > 0 ? readProcStat(pid) : undefined;
  if (!stat) throw new Error(`task ${task.meta?.id} is running but its pid ${pid} is not a live process`);
  return { pid, startTime: stat.startTime };
}

/** The same process as when it was recorded, and not a zombie. */
function alive(proc: Proc): boolean {
  const stat = readProcStat(proc.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X' && stat.startTime === proc.startTime;
}

/** Waits until the service has exactly `count` runnable tasks, all running and passing `also`. */
async function running(name: string, count: number, also: (t: E2eTask) => boolean = () => true): Promise<E2eTask[]> {
  let tasks: E2eTask[] = [];
  await waitFor(`${count} running tasks of ${name}`, async () => {
    tasks = (await tasksOf(name)).filter(isRunnable);
    return tasks.length === count && tasks.every((t) => isRunning(t) && also(t));
  }, CONVERGE_MS, POLL_MS);
  return tasks;
}

async function create(name: string, ...flags: string[]): Promise<void> {
  await suite.cluster.shoalOk('service', 'create', '--detach', '--name', name, ...flags, suite.cluster.baseImage, ...SLEEPER);
}

/** Removes the service and waits until the containers of its tasks have stopped. */
async function removeService(name: string): Promise<void> {
  const procs = (await tasksOf(name)).filter(isRunning).map(procOf);
  await suite.cluster.shoalOk('service', 'rm', name);
  await waitFor(`the containers of ${name} to stop`, () => !procs.some(alive), CONVERGE_MS, POLL_MS);
}

const countBy = <T>(items: T[], key: (item: T) => string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
};

describe('replicated service', () => {
  it('spreads 6 replicas 3 and 3 over the workers, scales up to 8 and down to 2', async () => {
    const [w1, w2] = [await nodeId('w1'), await nodeId('w2')];
    await create('spread', '--replicas', '6');
    const six = await running('spread', 6);
    expect(Object.fromEntries(countBy(six, (t) => t.nodeId!))).toEqual({ [w1]: 3, [w2]: 3 });

    await suite.cluster.shoalOk('service', 'scale', '--detach', 'spread=8');
    const eight = await running('spread', 8);
    expect(Object.fromEntries(countBy(eight, (t) => t.nodeId!))).toEqual({ [w1]: 4, [w2]: 4 });
    // Scaling up leaves the tasks that were running alone.
    expect(eight.map((t) => t.meta!.id)).toEqual(expect.arrayContaining(six.map((t) => t.meta!.id)));

    const eightProcs = new Map(eight.map((t) => [t.meta!.id!, procOf(t)]));
    await suite.cluster.shoalOk('service', 'scale', '--detach', 'spread=2');
    const two = await running('spread', 2);
    expect(new Set(two.map((t) => t.slot))).toEqual(new Set([1, 2]));
    // The six tasks scaled away had their containers stopped; the two kept run on.
    const gone = [...eightProcs].filter(([id]) => !two.some((t) => t.meta!.id === id)).map(([, proc]) => proc);
    expect(gone).toHaveLength(6);
    await waitFor('the containers scaled away to stop', () => !gone.some(alive), CONVERGE_MS, POLL_MS);
    for (const t of two) expect(alive(eightProcs.get(t.meta!.id!)!)).toBe(true);

    await removeService('spread');
  });
});

describe('rolling update with a healthcheck', () => {
  const REPLICAS = 4;
  const PARALLELISM = 2;
  /** Healthy about a second after it starts. */
  const SLOW_STARTER = ['sh', '-c', 'trap "exit 0" TERM; (sleep 1; touch /tmp/healthy) & sleep 100000 & wait'];
  const healthy = (t: E2eTask): boolean => isRunning(t) && t.status?.health === 'HEALTH_STATE_HEALTHY';
  const envOf = (t: E2eTask): string[] => t.spec?.container?.env ?? [];

  it('replaces tasks two at a time, each batch only once the new ones are healthy', async () => {
    await suite.cluster.shoalOk(
      'service', 'create', '--detach', '--name', 'web', '--replicas', String(REPLICAS),
      '--health-cmd', 'test -f /tmp/healthy', '--health-interval', '500ms', '--health-timeout', '2s', '--health-retries', '3',
      '--update-parallelism', String(PARALLELISM), '--update-monitor', '2s', '--update-failure-action', 'rollback',
      '--rollback-parallelism', String(REPLICAS), '--rollback-monitor', '1s',
      suite.cluster.baseImage, ...SLOW_STARTER,
    );
    const before = await running('web', REPLICAS, healthy);
    const oldVersion = before[0]!.specVersion;

    await suite.cluster.shoalOk('service', 'update', '--detach', '--env-add', 'VERSION=2', 'web');
    let fewestHealthy = REPLICAS;
    await waitFor('the update to complete', async () => {
      const tasks = await tasksOf('web');
      fewestHealthy = Math.min(fewestHealthy, tasks.filter(healthy).length);
      const looksDone = tasks.filter(healthy).length === REPLICAS && tasks.filter(healthy).every((t) => envOf(t).includes('VERSION=2'));
      return looksDone && (await service('web')).updateStatus?.state === 'UPDATE_STATE_COMPLETED';
    }, 120_000, POLL_MS);
    // Stop-first with parallelism 2: at most two slots are ever without a healthy task.
    expect(fewestHealthy).toBeGreaterThanOrEqual(REPLICAS - PARALLELISM);

    const svc = await service('web');
    const after = await running('web', REPLICAS, healthy);
    for (const t of after) {
      expect(t.specVersion).toBe(svc.specVersion);
      expect(t.specVersion).not.toBe(oldVersion);
      expect(envOf(t)).toContain('VERSION=2');
    }
    // Every slot got a new task; every old one was shut down.
    const beforeIds = new Set(before.map((t) => t.meta!.id));
    expect(after.filter((t) => beforeIds.has(t.meta!.id))).toEqual([]);
    const old = (await tasksOf('web')).filter((t) => beforeIds.has(t.meta!.id));
    expect(old.map((t) => t.status?.state)).toEqual(Array(REPLICAS).fill('TASK_STATE_SHUTDOWN'));

    // The polls above are seconds apart; the workers' own timestamps (one host clock) give the
    // whole order: a new task's is when it turned RUNNING, which a healthcheck holds back until
    // healthy, and an old task's is when its container had stopped. Whenever an old task had
    // stopped, all but two of the old tasks stopped by then had been replaced by healthy new ones.
    const stops = old.map(timestampOf).sort((a, b) => a - b);
    const healthySince = after.map(timestampOf);
    expect([...stops, ...healthySince].every((at) => at > 0)).toBe(true);
    for (const [i, stop] of stops.entries()) {
      const replaced = healthySince.filter((since) => since < stop).length;
      expect(replaced, `new tasks healthy before the old task #${i + 1} stopped`).toBeGreaterThanOrEqual(i + 1 - PARALLELISM);
    }
  });

  it('rolls back by itself an update whose healthcheck never passes', async () => {
    await running('web', REPLICAS, healthy);

    await suite.cluster.shoalOk('service', 'update', '--detach', '--health-cmd', 'false', 'web');
    await waitFor('the update to roll back', async () => (await service('web')).updateStatus?.state === 'UPDATE_STATE_ROLLBACK_COMPLETED', 120_000, POLL_MS);

    const after = await running('web', REPLICAS, healthy);
    for (const t of after) {
      expect(t.spec?.container?.healthcheck?.test).toEqual(['CMD-SHELL', 'test -f /tmp/healthy']);
      expect(envOf(t)).toContain('VERSION=2');
    }
    // The tasks that were never healthy failed their healthcheck and were replaced.
    const failed = (await tasksOf('web')).filter((t) => t.spec?.container?.healthcheck?.test?.[1] === 'false');
    expect(failed.some((t) => t.status?.state === 'TASK_STATE_FAILED' && t.status.err === 'task failed: unhealthy container')).toBe(true);
    expect(failed.every((t) => !isRunnable(t))).toBe(true);

    await removeService('web');
  });
});

describe('node availability', () => {
  it('a drained worker’s tasks move to the other; it takes tasks again once active', async () => {
    const [w1, w2] = [await nodeId('w1'), await nodeId('w2')];
    await create('drainee', '--replicas', '4');
    const before = await running('drainee', 4);
    const onW1 = before.filter((t) => t.nodeId === w1).map(procOf);
    expect(onW1).toHaveLength(2);

    await suite.cluster.shoalOk('node', 'update', '--availability', 'drain', 'w1');
    await running('drainee', 4, (t) => t.nodeId === w2);
    await waitFor('the drained worker’s containers to stop', () => !onW1.some(alive), CONVERGE_MS, POLL_MS);
    expect((await nodeByName('w1')).spec?.availability).toBe('NODE_AVAILABILITY_DRAIN');

    await suite.cluster.shoalOk('node', 'update', '--availability', 'active', 'w1');
    expect((await nodeByName('w1')).spec?.availability ?? 'NODE_AVAILABILITY_ACTIVE').toBe('NODE_AVAILABILITY_ACTIVE');
    // Running tasks are not moved back (as in docker), but new ones may go to w1 again.
    await suite.cluster.shoalOk('service', 'scale', '--detach', 'drainee=6');
    const six = await running('drainee', 6);
    expect(six.some((t) => t.nodeId === w1)).toBe(true);

    await removeService('drainee');
  });
});

describe('worker failures', () => {
  it('a killed worker is down and its tasks run elsewhere within three heartbeats; back, it stops what it lost', async () => {
    const [w1, w2] = [await nodeId('w1'), await nodeId('w2')];
    await create('survivor', '--replicas', '4');
    const before = await running('survivor', 4);
    const lost = before.filter((t) => t.nodeId === w2).map(procOf);
    expect(lost.length).toBeGreaterThan(0);

    const killedAt = Date.now();
    await suite.cluster.stop('w2', { kill: true });
    await waitFor('w2 to be down and its tasks to run on w1', async () => {
      if ((await nodeByName('w2')).status?.state !== 'NODE_STATE_DOWN') return false;
      const tasks = (await tasksOf('survivor')).filter(isRunnable);
      return tasks.length === 4 && tasks.every((t) => isRunning(t) && t.nodeId === w1);
    }, CONVERGE_MS, POLL_MS);
    const elapsed = Date.now() - killedAt;
    // Three heartbeat periods to be declared down, plus time to schedule and start the replacements.
    expect(elapsed, `${elapsed} ms from the kill to the replacements running`).toBeLessThan(3 * HEARTBEAT_MS + 10_000);
    // The worker died, its containers did not (their shims outlive it).
    expect(lost.every(alive)).toBe(true);

    await suite.cluster.start('w2');
    await waitFor('the returning worker to stop the containers of the tasks it lost', () => !lost.some(alive), CONVERGE_MS, POLL_MS);
    await waitFor('w2 to be ready', async () => (await nodeByName('w2')).status?.state === 'NODE_STATE_READY', CONVERGE_MS, POLL_MS);
    expect((await running('survivor', 4)).every((t) => t.nodeId === w1)).toBe(true);

    await removeService('survivor');
  });

  it('a restarted worker process leaves its containers running: same tasks, same pids', async () => {
    const w1 = await nodeId('w1');
    await create('steady', '--replicas', '4');
    const before = await running('steady', 4);
    const onW1 = before.filter((t) => t.nodeId === w1);
    expect(onW1.length).toBeGreaterThan(0);
    const procs = onW1.map(procOf);

    // Sample the containers' processes throughout the restart, not only before and after.
    const vanished = new Set<number>();
    const sampler = setInterval(() => {
      for (const p of procs) if (!alive(p)) vanished.add(p.pid);
    }, 20);
    try {
      await suite.cluster.stop('w1');
      await suite.cluster.start('w1');
      await waitFor('w1 to be ready', async () => (await nodeByName('w1')).status?.state === 'NODE_STATE_READY', CONVERGE_MS, POLL_MS);
      // Long enough for the managers to have declared w1 down had its session not come back.
      await new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_MS + 1000));
    } finally {
      clearInterval(sampler);
    }
    expect([...vanished]).toEqual([]);
    const after = await running('steady', 4);
    const key = (t: E2eTask): string => `${t.meta!.id}@${t.nodeId}:${t.status?.pid}`;
    expect(after.map(key).sort()).toEqual(before.map(key).sort());

    await removeService('steady');
  });
});

describe('manager failure', () => {
  it('kill -9 of the leader: the CLI keeps working through another manager and no container is disturbed', async () => {
    await create('untouched', '--replicas', '2');
    await create('knob', '--replicas', '1');
    const before = await running('untouched', 2);
    await running('knob', 1);
    const procs = before.map(procOf);

    const leader = (await nodes()).find((n) => n.managerStatus?.leader)?.description?.hostname;
    expect(leader).toMatch(/^m\d$/);
    await suite.cluster.stop(leader!, { kill: true });

    // Right after the kill the survivors are still electing; the CLI must get through soon after.
    await waitFor('service ls to succeed', async () => (await suite.cluster.shoal('service', 'ls')).code === 0, 30_000, 200);
    await waitFor('service scale to succeed', async () => (await suite.cluster.shoal('service', 'scale', '--detach', 'knob=2')).code === 0, 30_000, 200);
    await running('knob', 2);
    const newLeader = (await nodes()).find((n) => n.managerStatus?.leader)?.description?.hostname;
    expect(newLeader).toMatch(/^m\d$/);
    expect(newLeader).not.toBe(leader);

    const after = await running('untouched', 2);
    expect(after.map((t) => `${t.meta!.id}:${t.status?.pid}`).sort()).toEqual(before.map((t) => `${t.meta!.id}:${t.status?.pid}`).sort());
    expect(procs.every(alive)).toBe(true);

    await suite.cluster.start(leader!);
    await waitFor(`${leader} to be a reachable manager again`, async () => {
      const m = await nodeByName(leader!);
      return m.managerStatus?.leader === true || m.managerStatus?.reachability === 'reachable';
    }, CONVERGE_MS, 200);
    await removeService('knob');
    await removeService('untouched');
  });
});

describe('container settings', () => {
  it('memory limit, environment and command reach the container, and its output comes back as logs', async () => {
    await suite.cluster.shoalOk(
      'service', 'create', '--detach', '--name', 'greeter', '--limit-memory', '64M', '--env', 'GREETING=hello',
      suite.cluster.baseImage, 'sh', '-c', 'echo "$GREETING from $0 and $1"; trap "exit 0" TERM; sleep 100000 & wait', 'first', 'second',
    );
    const [task] = await running('greeter', 1);
    const worker = (await nodes()).find((n) => n.meta?.id === task!.nodeId)!.description!.hostname!;
    const taskId = task!.meta!.id!;

    const cgroup = `/sys/fs/cgroup/memory/shoal-local/${NAME}/${worker}/${taskId}`;
    expect(readFileSync(join(cgroup, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(64 * 1024 * 1024));
    // The container's main process is in that cgroup.
    expect(readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(task!.status!.pid));

    const expected = `greeter.1.${taskId.slice(0, 12)}@${worker}    | hello from first and second`;
    let logs = '';
    await waitFor('the greeting in the service logs', async () => {
      const r = await suite.cluster.shoal('service', 'logs', 'greeter');
      logs = r.stdout;
      return r.code === 0 && logs.split('\n').includes(expected);
    }, CONVERGE_MS, 500).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; last output:\n${logs}`);
    });

    await removeService('greeter');
  });
});

describe('global service', () => {
  it('gets a task on a worker that joins later', async () => {
    const workers = [await nodeId('w1'), await nodeId('w2')];
    await suite.cluster.shoalOk('service', 'create', '--detach', '--name', 'everywhere', '--mode', 'global', suite.cluster.baseImage, ...SLEEPER);
    const two = await running('everywhere', 2);
    expect(new Set(two.map((t) => t.nodeId))).toEqual(new Set(workers));

    const added = await suite.cluster.addWorker();
    expect(added).toBe('w3');
    const w3 = await nodeId('w3');
    const three = await running('everywhere', 3);
    expect(new Set(three.map((t) => t.nodeId))).toEqual(new Set([...workers, w3]));
    // The tasks already running were left alone.
    expect(three.map((t) => t.meta!.id)).toEqual(expect.arrayContaining(two.map((t) => t.meta!.id)));

    await removeService('everywhere');
  });
});

describe('down', () => {
  it('leaves no namespace, runtime root, cgroup or process behind', async () => {
    await suite.cluster.down();
    const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${NAME}-`)) : [];
    expect(netns).toEqual([]);
    expect(existsSync(`/run/shoal-local/${NAME}`)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/memory/shoal-local/${NAME}`)).toBe(false);
    expect(existsSync(suite.dir)).toBe(false);
    const daemons = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`/run/shoal-local/${NAME}/`);
      } catch {
        return false;
      }
    });
    expect(daemons).toEqual([]);
  });
});
