/**
 * Real `shoal worker` processes (fake executor: each task a plain sleep process) joined to three
 * managers: a restarted worker resumes its tasks without restarting them, a killed worker's tasks
 * are replaced on another node, and when it comes back it stops what is no longer its own.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/common/proc-stat.js';
import { isRunnable, isRunning, type TaskJson } from '../support/task-json.js';
import { TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait-for.js';
import { WorkerProcess } from '../support/worker-process.js';

interface WorkerTaskJson extends TaskJson {
  status?: TaskJson['status'] & { pid?: number };
}

let cluster: TestCluster;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  cluster = await TestCluster.start({ managers: 3 });
  for (const name of ['wa', 'wb']) {
    workers.push(
      WorkerProcess.start({ dir: join(cluster.root, name), managers: cluster.addresses, token: cluster.workerToken, hostname: name, labels: { group: 'procs' } }),
    );
  }
  await waitFor('both workers to be READY', async () => {
    const nodes = await cluster.json<{ description?: { hostname?: string }; status?: { state?: string } }[]>(['node', 'ls']);
    return ['wa', 'wb'].every((name) => nodes.some((n) => n.description?.hostname === name && n.status?.state === 'NODE_STATE_READY'));
  }, 30_000, 100);
});

afterAll(async () => {
  for (const worker of workers) {
    await worker.stop();
    worker.killTasks();
  }
  await cluster?.close();
});

const pidOf = (t: WorkerTaskJson): number => t.status?.pid ?? 0;
/** Sessions a worker's log says it opened (the log file is shared by its restarts). */
const sessionsOpened = (worker: WorkerProcess): number => worker.log().split('\n').filter((line) => line.includes('"agent: session open"')).length;

async function running(count: number): Promise<WorkerTaskJson[]> {
  let tasks: WorkerTaskJson[] = [];
  await waitFor(`${count} running tasks`, async () => {
    tasks = (await cluster.json<WorkerTaskJson[]>(['service', 'ps', 'procs'])).filter(isRunnable);
    return tasks.length === count && tasks.every(isRunning);
  }, 30_000, 100);
  return tasks;
}

describe('worker processes', () => {
  it('run a service spread over both workers', async () => {
    await cluster.ok(['service', 'create', '--detach', '--name', 'procs', '--replicas', '4', '--constraint', 'engine.labels.group==procs', 'app:1']);
    const tasks = await running(4);
    expect(new Set(tasks.map((t) => t.nodeId))).toEqual(new Set(workers.map((w) => w.id)));
    for (const task of tasks) expect(isAlive(pidOf(task))).toBe(true);
  });

  it('a restarted worker resumes its tasks: same tasks, same processes', async () => {
    const before = await running(4);
    const [wa] = workers as [WorkerProcess];
    const sessionsBefore = sessionsOpened(wa);
    expect(await wa.stop()).toBe(0);
    workers[0] = wa.restart();
    await waitFor('the restarted worker to open a session', () => sessionsOpened(workers[0]!) > sessionsBefore, 30_000, 50);
    // Past the three heartbeat periods (500 ms each) a node that had not come back would be down.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await running(4);
    expect(after.map((t) => `${t.meta?.id}:${pidOf(t)}`).sort()).toEqual(before.map((t) => `${t.meta?.id}:${pidOf(t)}`).sort());
  });

  it('a killed worker’s tasks are replaced elsewhere; back again, it stops the ones it lost', async () => {
    const wb = workers[1]!;
    const lostTasks = (await running(4)).filter((t) => t.nodeId === wb.id);
    expect(lostTasks.length).toBeGreaterThan(0);
    await wb.kill();
    // Three heartbeat periods (500 ms here) later the node is down and its slots run on wa.
    await waitFor('every task to run on the surviving worker', async () => {
      const tasks = (await cluster.json<WorkerTaskJson[]>(['service', 'ps', 'procs'])).filter(isRunnable);
      return tasks.length === 4 && tasks.every((t) => isRunning(t) && t.nodeId === workers[0]!.id);
    }, 30_000, 100);
    // The dead worker's task processes outlived it.
    for (const task of lostTasks) expect(isAlive(pidOf(task))).toBe(true);

    workers[1] = wb.restart();
    await waitFor('the returning worker to stop the tasks that are no longer its own', () => lostTasks.every((t) => !isAlive(pidOf(t))), 30_000, 100);
    expect((await running(4)).every((t) => t.nodeId === workers[0]!.id)).toBe(true);
  });
});
