/**
 * One real manager process, fake nodes in this process, and the real `shoal` CLI: the issue's
 * single-manager proof. Each test keeps to its own nodes (labelled group=NAME) through a constraint,
 * so the tests share one manager without disturbing each other.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState } from '../../proto/gen/objects.js';
import { imageOf, isRunnable, isRunning, observed, type ServiceJson, type TaskJson } from '../support/task-json.js';
import { TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait-for.js';

const GiB = 1024 ** 3;
/** Short update timings keep the suite quick; the monitor still outlasts a bad task's 100 ms life. */
const FAST_UPDATES = ['--update-delay', '0s', '--update-monitor', '1s', '--rollback-monitor', '1s', '--restart-delay', '200ms'];

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({ managers: 1 });
});

afterAll(async () => {
  await cluster?.close();
});

const inGroup = (group: string): string[] => ['--constraint', `engine.labels.group==${group}`];
const ps = (service: string): Promise<TaskJson[]> => cluster.json<TaskJson[]>(['service', 'ps', service]);
const inspect = async (service: string): Promise<ServiceJson> => {
  const [s] = JSON.parse(await cluster.ok(['service', 'inspect', service])) as ServiceJson[];
  return s;
};

async function waitForRunning(service: string, count: number, image?: string): Promise<TaskJson[]> {
  let tasks: TaskJson[] = [];
  await waitFor(`${count} running tasks of ${service}${image ? ` with ${image}` : ''}`, async () => {
    tasks = await ps(service);
    const runnable = tasks.filter(isRunnable);
    return runnable.length === count && runnable.every((t) => isRunning(t) && (!image || imageOf(t) === image));
  }, 30_000, 100);
  return tasks.filter(isRunnable);
}

/** Every slot 1..n holds exactly one runnable task. */
function expectOnePerSlot(runnable: TaskJson[], n: number): void {
  expect(runnable.map((t) => t.slot).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
}

describe('one manager, driven through the CLI', () => {
  it('creates a service, waits for it to converge, and scales it up and down', async () => {
    const nodes = await cluster.addNodes('basic', 3);
    const created = await cluster.cli(['service', 'create', '--name', 'web', '--replicas', '3', ...inGroup('basic'), ...FAST_UPDATES, 'nginx:1']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.split('\n')[0]).toMatch(/^[0-9a-z]{25}$/);
    let runnable = await waitForRunning('web', 3);
    expectOnePerSlot(runnable, 3);
    // Ranked by fewest tasks of the service: one per node.
    expect(new Set(runnable.map((t) => t.nodeId))).toEqual(new Set(nodes.map((n) => n.id)));

    expect((await cluster.cli(['service', 'scale', 'web=5'])).code).toBe(0);
    expectOnePerSlot(await waitForRunning('web', 5), 5);

    expect((await cluster.cli(['service', 'scale', 'web=2'])).code).toBe(0);
    runnable = await waitForRunning('web', 2);
    expect(new Set(runnable.map((t) => t.slot)).size).toBe(2);
    // The removed slots' tasks were shut down, not lost track of.
    await waitFor('the scaled-down tasks to stop', async () =>
      (await ps('web')).filter((t) => !isRunnable(t)).every((t) => observed(t) === TaskState.TASK_STATE_SHUTDOWN));
    const ls = await cluster.json<{ spec?: { annotations?: { name?: string } } }[]>(['service', 'ls']);
    expect(ls.map((s) => s.spec?.annotations?.name)).toContain('web');
  });

  it('pauses an update whose new tasks fail, and says why', async () => {
    const nodes = await cluster.addNodes('pause', 2);
    for (const n of nodes) n.failNewTasks((t) => t.spec?.container?.image === 'app:bad');
    await cluster.ok(['service', 'create', '--name', 'paused', '--replicas', '2', ...inGroup('pause'), ...FAST_UPDATES, '--update-failure-action', 'pause', 'app:1']);
    const r = await cluster.cli(['service', 'update', '--image', 'app:bad', 'paused']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/paused/);
    const s = await inspect('paused');
    expect(s.updateStatus?.state).toBe('UPDATE_STATE_PAUSED');
    expect(s.updateStatus?.message).not.toBe('');
    expect(r.stderr).toContain(s.updateStatus?.message);
  });

  it('continues an update past failures when told to', async () => {
    const nodes = await cluster.addNodes('continue', 2);
    for (const n of nodes) n.failNewTasks((t) => t.spec?.container?.image === 'app:bad');
    await cluster.ok(['service', 'create', '--name', 'continued', '--replicas', '3', ...inGroup('continue'), ...FAST_UPDATES, '--update-failure-action', 'continue', 'app:1']);
    await cluster.ok(['service', 'update', '--detach', '--image', 'app:bad', 'continued']);
    await waitFor('the update to complete', async () => (await inspect('continued')).updateStatus?.state === 'UPDATE_STATE_COMPLETED', 30_000, 200);
    // Every slot was moved to the new spec even though its tasks keep failing.
    const runnable = (await ps('continued')).filter(isRunnable);
    expect(runnable.every((t) => imageOf(t) === 'app:bad')).toBe(true);
    expect(new Set(runnable.map((t) => t.slot))).toEqual(new Set([1, 2, 3]));
  });

  it('rolls a failing update back automatically', async () => {
    const nodes = await cluster.addNodes('autorollback', 2);
    for (const n of nodes) n.failNewTasks((t) => t.spec?.container?.image === 'app:bad');
    await cluster.ok(['service', 'create', '--name', 'autoback', '--replicas', '2', ...inGroup('autorollback'), ...FAST_UPDATES, '--update-failure-action', 'rollback', 'app:1']);
    const r = await cluster.cli(['service', 'update', '--image', 'app:bad', 'autoback']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rolled back/);
    const s = await inspect('autoback');
    expect(s.updateStatus?.state).toBe('UPDATE_STATE_ROLLBACK_COMPLETED');
    expect(s.spec?.task?.container?.image).toBe('app:1');
    expectOnePerSlot(await waitForRunning('autoback', 2, 'app:1'), 2);
  });

  it('rolls back by hand to the previous spec', async () => {
    await cluster.addNodes('rollback', 2);
    await cluster.ok(['service', 'create', '--name', 'manual', '--replicas', '2', ...inGroup('rollback'), ...FAST_UPDATES, 'app:1']);
    await cluster.ok(['service', 'update', '--image', 'app:2', 'manual']);
    await waitForRunning('manual', 2, 'app:2');
    const r = await cluster.cli(['service', 'rollback', 'manual']);
    expect(r.code, r.stderr).toBe(0);
    expect((await inspect('manual')).spec?.task?.container?.image).toBe('app:1');
    expectOnePerSlot(await waitForRunning('manual', 2, 'app:1'), 2);
  });

  it('moves tasks off a drained node', async () => {
    const [drained, kept] = await cluster.addNodes('drain', 2);
    await cluster.ok(['service', 'create', '--name', 'drainme', '--replicas', '4', ...inGroup('drain'), ...FAST_UPDATES, 'app:1']);
    expect(new Set((await waitForRunning('drainme', 4)).map((t) => t.nodeId)).size).toBe(2);
    await cluster.ok(['node', 'update', '--availability', 'drain', drained.id]);
    await waitFor('every task on the kept node', async () => {
      const runnable = (await ps('drainme')).filter(isRunnable);
      return runnable.length === 4 && runnable.every((t) => t.nodeId === kept.id && isRunning(t));
    }, 30_000, 100);
    const node = JSON.parse(await cluster.ok(['node', 'inspect', drained.id])) as { spec?: { availability?: string } }[];
    expect(node[0].spec?.availability).toBe('NODE_AVAILABILITY_DRAIN');
  });

  it('moves the tasks of a node that stops heartbeating to the others', async () => {
    const [lost, survivor] = await cluster.addNodes('lost', 2);
    await cluster.ok(['service', 'create', '--name', 'survive', '--replicas', '2', ...inGroup('lost'), ...FAST_UPDATES, 'app:1']);
    expect(new Set((await waitForRunning('survive', 2)).map((t) => t.nodeId)).size).toBe(2);
    lost.kill();
    await waitFor('the node to be down', async () => {
      const [node] = JSON.parse(await cluster.ok(['node', 'inspect', lost.id])) as { status?: { state?: string; message?: string } }[];
      return node.status?.state === 'NODE_STATE_DOWN' && node.status.message === 'heartbeat failure';
    }, 30_000, 100);
    const runnable = await waitForRunning('survive', 2);
    expect(runnable.every((t) => t.nodeId === survivor.id)).toBe(true);
    expectOnePerSlot(runnable, 2);
  });

  it('runs a global service on every eligible node, including nodes that join later', async () => {
    const first = await cluster.addNode('global');
    await cluster.ok(['service', 'create', '--name', 'agent', '--mode', 'global', ...inGroup('global'), ...FAST_UPDATES, 'agent:1']);
    expect((await waitForRunning('agent', 1))[0].nodeId).toBe(first.id);
    const second = await cluster.addNode('global');
    const runnable = await waitForRunning('agent', 2);
    expect(new Set(runnable.map((t) => t.nodeId))).toEqual(new Set([first.id, second.id]));
  });

  it('places by constraints and resources, and says why a task stays pending', async () => {
    const small = await cluster.addNode('fit', { resources: { nanoCpus: 2e9, memoryBytes: 1 * GiB } });
    const big = await cluster.addNode('fit', { resources: { nanoCpus: 2e9, memoryBytes: 4 * GiB } });
    await cluster.ok(['service', 'create', '--name', 'hungry', '--replicas', '2', '--reserve-memory', '2g', ...inGroup('fit'), ...FAST_UPDATES, 'app:1']);
    expect((await waitForRunning('hungry', 2)).every((t) => t.nodeId === big.id)).toBe(true);

    await cluster.ok(['service', 'create', '--detach', '--name', 'pinned', '--replicas', '1', '--constraint', `node.hostname==${small.hostname}`, ...FAST_UPDATES, 'app:1']);
    expect((await waitForRunning('pinned', 1))[0].nodeId).toBe(small.id);

    // Three tasks of 2 GiB: neither node has room left (the big one holds 4 GiB of reservations).
    await cluster.ok(['service', 'create', '--detach', '--name', 'toobig', '--replicas', '1', '--reserve-memory', '2g', ...inGroup('fit'), ...FAST_UPDATES, 'app:1']);
    let pending: TaskJson | undefined;
    await waitFor('a pending reason', async () => {
      [pending] = await ps('toobig');
      return /^no suitable node \(/.test(pending?.status?.message ?? '');
    }, 30_000, 100);
    expect(observed(pending!)).toBe(TaskState.TASK_STATE_PENDING);
    expect(pending!.status?.message).toMatch(/insufficient memory on 2 nodes/);
    expect(pending!.status?.message).toMatch(/constraints not satisfied on \d+ nodes/);
    const table = await cluster.ok(['service', 'ps', '--no-trunc', 'toobig']);
    expect(table).toMatch(/no suitable node \(/);
  });

  it('deploys a stack file, leaves an unchanged redeploy alone, updates what changed and removes it', async () => {
    await cluster.addNodes('stack', 2);
    const file = join(cluster.root, 'stack.yml');
    const stackFile = (apiReplicas: number): string => `
services:
  api:
    image: api:1
    environment:
      MODE: production
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
    deploy:
      replicas: ${apiReplicas}
      placement:
        constraints: [engine.labels.group==stack]
      update_config: {parallelism: 2, monitor: 1s, order: start-first}
  worker:
    image: worker:1
    command: ["run", "--queue", "jobs"]
    deploy:
      mode: global
      placement:
        constraints: [engine.labels.group==stack]
`;
    writeFileSync(file, stackFile(3));
    await cluster.ok(['stack', 'deploy', '-c', file, 'shop']);
    expectOnePerSlot(await waitForRunning('shop_api', 3), 3);
    expect((await waitForRunning('shop_worker', 2)).every((t) => t.spec?.container?.args?.join(' ') === 'run --queue jobs')).toBe(true);
    const services = await cluster.json<ServiceJson[]>(['stack', 'services', 'shop']);
    expect(services.map((s) => s.spec?.annotations?.name).sort()).toEqual(['shop_api', 'shop_worker']);
    expect(services.every((s) => s.spec?.annotations?.labels?.['shoal.stack.namespace'] === 'shop')).toBe(true);
    const versions = new Map(services.map((s) => [s.spec?.annotations?.name, s.meta?.version]));

    // The same file again: not one write.
    await cluster.ok(['stack', 'deploy', '-c', file, 'shop']);
    const again = await cluster.json<ServiceJson[]>(['stack', 'services', 'shop']);
    expect(new Map(again.map((s) => [s.spec?.annotations?.name, s.meta?.version]))).toEqual(versions);

    // One change: only that service moves.
    writeFileSync(file, stackFile(4));
    await cluster.ok(['stack', 'deploy', '-c', file, 'shop']);
    expectOnePerSlot(await waitForRunning('shop_api', 4), 4);
    const changed = await cluster.json<ServiceJson[]>(['stack', 'services', 'shop']);
    const worker = changed.find((s) => s.spec?.annotations?.name === 'shop_worker');
    expect(worker?.meta?.version).toBe(versions.get('shop_worker'));

    await cluster.ok(['stack', 'rm', 'shop']);
    expect((await cluster.cli(['stack', 'services', 'shop'])).stderr).toMatch(/nothing found in stack: shop/);
  });

  it('refuses a stack file with an unknown key, deploying nothing', async () => {
    const file = join(cluster.root, 'bad-stack.yml');
    writeFileSync(file, 'services:\n  api:\n    image: api:1\n    deploy:\n      replicaz: 2\n');
    const r = await cluster.cli(['stack', 'deploy', '-c', file, 'broken']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/replicaz/);
    const services = await cluster.cli(['stack', 'services', 'broken']);
    expect(services.stderr).toMatch(/nothing found in stack: broken/);
  });

  it('resumes from its state directory after a restart', async () => {
    const before = (await ps('web')).filter(isRunnable).map((t) => t.meta?.id).sort();
    const [manager] = cluster.managers;
    expect(await manager.stop()).toBe(0);
    const restarted = cluster.restartManager(manager);
    await cluster.waitForLeader();
    expect(restarted.alive).toBe(true);
    // The same tasks, and no new ones: the nodes reconnect and report them running again.
    const live = cluster.nodes.filter((n) => n.status().state !== 'killed');
    await waitFor('the nodes to reconnect', () => live.every((n) => n.status().state === 'connected' && n.status().sessionsOpened > 1), 30_000, 100);
    const after = await waitForRunning('web', 2);
    expect(after.map((t) => t.meta?.id).sort()).toEqual(before);
  });
});
