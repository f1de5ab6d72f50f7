import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { DispatcherService } from '../../proto/gen/dispatcher.js';
import { Cluster, HealthState, NodeState, Task, TaskState } from '../../proto/gen/objects.js';
import { Dispatcher } from '../../src/manager/dispatcher/dispatcher.js';
import type { ReplicatedStore } from '../../src/store/replicated-store.js';
import { createTestStore } from '../../src/store/testing/test-store.js';
import { FakeNodeSimulator } from './node-simulator.js';
import { waitFor } from './wait-for.js';

interface FakeManager {
  address: string;
  store: ReplicatedStore;
  dispatcher: Dispatcher;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A dispatcher over a test store, served on loopback: the manager side the fake node talks to. */
async function fakeManager(opts: { active: boolean; leaderAddress?: () => string | undefined }): Promise<FakeManager> {
  const { store } = createTestStore();
  await store.update((tx) => tx.clusters.create(Cluster.fromPartial({ meta: { id: 'c' }, spec: { heartbeatPeriodMs: 200 } })));
  const dispatcher = new Dispatcher({ store, leaderAddress: opts.leaderAddress ?? (() => undefined), managerAddresses: () => [], assignmentDebounceMs: 5 });
  const server = new grpc.Server();
  server.addService(DispatcherService, dispatcher.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  if (opts.active) dispatcher.start();
  cleanups.push(() => {
    dispatcher.stop();
    server.forceShutdown();
  });
  return { address: `127.0.0.1:${port}`, store, dispatcher };
}

async function startNode(managers: string[], hostname = 'fake-1'): Promise<FakeNodeSimulator> {
  const node = new FakeNodeSimulator({ managers, hostname, stepDelayMs: 1, statusBatchMs: 2 });
  cleanups.push(() => node.stop());
  await node.start();
  return node;
}

async function assign(m: FakeManager, id: string, nodeId: string, extra: Partial<Task> = {}): Promise<void> {
  await m.store.update((tx) =>
    tx.tasks.create(
      Task.fromPartial({
        meta: { id },
        serviceId: 's',
        slot: 1,
        nodeId,
        desiredState: TaskState.TASK_STATE_RUNNING,
        status: { state: TaskState.TASK_STATE_ASSIGNED },
        ...extra,
      }),
    ),
  );
}

async function setDesired(m: FakeManager, id: string, desiredState: TaskState): Promise<void> {
  await m.store.update((tx) => {
    const t = tx.tasks.get(id);
    if (t) tx.tasks.update({ ...t, desiredState });
  });
}

const stored = (m: FakeManager, id: string) => m.store.view((tx) => tx.tasks.get(id));

describe('FakeNodeSimulator (a fake worker)', () => {
  it('runs an assigned task to RUNNING, healthy when it has a healthcheck, and stops it on SHUTDOWN', async () => {
    const m = await fakeManager({ active: true });
    const node = await startNode([m.address]);
    await assign(m, 't1', node.id, {
      spec: { container: { image: 'web:1', healthcheck: { test: ['CMD', 'true'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 } } },
    } as Partial<Task>);
    await waitFor('RUNNING', () => stored(m, 't1')?.status?.state === TaskState.TASK_STATE_RUNNING);
    expect(stored(m, 't1')?.status?.health).toBe(HealthState.HEALTH_STATE_HEALTHY);

    await setDesired(m, 't1', TaskState.TASK_STATE_SHUTDOWN);
    await waitFor('SHUTDOWN', () => stored(m, 't1')?.status?.state === TaskState.TASK_STATE_SHUTDOWN);
  });

  it('prepares a task whose desired state is READY, and starts it only when told', async () => {
    const m = await fakeManager({ active: true });
    const node = await startNode([m.address]);
    await assign(m, 't1', node.id, { desiredState: TaskState.TASK_STATE_READY });
    await waitFor('READY', () => stored(m, 't1')?.status?.state === TaskState.TASK_STATE_READY);
    expect(node.taskStates().get('t1')).toBe(TaskState.TASK_STATE_READY);
    await setDesired(m, 't1', TaskState.TASK_STATE_RUNNING);
    await waitFor('RUNNING', () => stored(m, 't1')?.status?.state === TaskState.TASK_STATE_RUNNING);
  });

  it('fails, completes and sickens tasks on command', async () => {
    const m = await fakeManager({ active: true });
    const node = await startNode([m.address]);
    node.failNewTasks((t) => t.spec?.container?.image === 'bad:1', 10);
    await assign(m, 'bad', node.id, { spec: { container: { image: 'bad:1' } } } as Partial<Task>);
    for (const id of ['fail', 'done', 'sick']) await assign(m, id, node.id);
    await waitFor('three RUNNING', () => ['fail', 'done', 'sick'].every((id) => stored(m, id)?.status?.state === TaskState.TASK_STATE_RUNNING));
    node.failTask('fail', { exitCode: 3 });
    node.completeTask('done');
    node.makeUnhealthy('sick');
    await waitFor('every task to finish', () => ['bad', 'fail', 'done', 'sick'].every((id) => (stored(m, id)?.status?.state ?? 0) > TaskState.TASK_STATE_RUNNING));
    expect(stored(m, 'bad')?.status).toMatchObject({ state: TaskState.TASK_STATE_FAILED, exitCode: 1 });
    expect(stored(m, 'fail')?.status).toMatchObject({ state: TaskState.TASK_STATE_FAILED, exitCode: 3, err: 'task: non-zero exit (3)' });
    expect(stored(m, 'done')?.status).toMatchObject({ state: TaskState.TASK_STATE_COMPLETE, exitCode: 0 });
    expect(stored(m, 'sick')?.status).toMatchObject({ state: TaskState.TASK_STATE_FAILED, health: HealthState.HEALTH_STATE_UNHEALTHY });
  });

  it('follows a follower’s refusal to the leader', async () => {
    const leader = await fakeManager({ active: true });
    const follower = await fakeManager({ active: false, leaderAddress: () => leader.address });
    const node = await startNode([follower.address]);
    expect(node.status()).toMatchObject({ state: 'connected', manager: leader.address });
    expect(leader.store.view((tx) => tx.nodes.get(node.id)?.status?.state)).toBe(NodeState.NODE_STATE_READY);
  });

  it('reconnects when its session ends, keeping its id', async () => {
    const m = await fakeManager({ active: true });
    const node = await startNode([m.address]);
    const id = node.id;
    m.dispatcher.stop();
    m.dispatcher.start();
    await waitFor('a second session', () => node.status().sessionsOpened === 2);
    expect(node.id).toBe(id);
    expect(m.store.view((tx) => tx.nodes.count())).toBe(1);
  });

  it('goes down after missed heartbeats, whether stopped or killed', async () => {
    const m = await fakeManager({ active: true });
    const stopped = await startNode([m.address], 'stopped');
    const killed = await startNode([m.address], 'killed');
    const state = (id: string) => m.store.view((tx) => tx.nodes.get(id)?.status);
    await stopped.stop();
    killed.kill();
    await waitFor('the stopped node down', () => state(stopped.id)?.state === NodeState.NODE_STATE_DOWN);
    await waitFor('the killed node down', () => state(killed.id)?.state === NodeState.NODE_STATE_DOWN);
    expect(state(stopped.id)?.message).toBe('heartbeat failure');
    expect(state(killed.id)?.message).toBe('heartbeat failure');
  });
});
