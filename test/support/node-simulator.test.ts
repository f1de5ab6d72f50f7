import { afterEach, describe, expect, it } from 'vitest';
import { HealthState, TaskState, type Task } from '../../proto/gen/objects.js';
import { FakeManager, type FakeManagerOptions } from '../../src/agent/testing/fake-manager.js';
import { FakeNodeSimulator } from './node-simulator.js';
import { waitFor } from './wait-for.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** The manager side the fake node talks to: the real NodeCA and a scripted dispatcher, over mutual TLS. */
async function fakeManager(opts: FakeManagerOptions = {}): Promise<FakeManager> {
  const m = await FakeManager.start({ heartbeatPeriodMs: 200, ...opts });
  cleanups.push(() => m.close());
  return m;
}

async function startNode(m: FakeManager, managers = [m.address], hostname = 'fake-1'): Promise<FakeNodeSimulator> {
  const node = new FakeNodeSimulator({ managers, joinToken: m.joinToken(), hostname, stepDelayMs: 1, statusBatchMs: 2 });
  cleanups.push(() => node.stop());
  await node.start();
  return node;
}

const stateOf = (m: FakeManager, node: FakeNodeSimulator, id: string) => m.task(node.id, id)?.status;

describe('FakeNodeSimulator (a fake worker)', () => {
  it('joins with the token and registers as the node its certificate names', async () => {
    const m = await fakeManager();
    const node = await startNode(m);
    expect(node.id).not.toBe('');
    expect(m.joined).toEqual([{ nodeId: node.id, role: 'worker', clusterId: m.state.clusterId }]);
    expect(m.liveSession(node.id)?.description).toMatchObject({ hostname: 'fake-1' });
    expect(node.credentials?.nodeId).toBe(node.id);
  });

  it('refuses to start with a token the cluster does not take', async () => {
    const m = await fakeManager();
    const node = new FakeNodeSimulator({ managers: [m.address], joinToken: m.joinToken('manager'), hostname: 'fake-1' });
    cleanups.push(() => node.stop());
    await expect(node.start()).rejects.toMatchObject({ details: /manager join token/ });
  });

  it('runs an assigned task to RUNNING, healthy when it has a healthcheck, and stops it on SHUTDOWN', async () => {
    const m = await fakeManager();
    const node = await startNode(m);
    m.assign(node.id, 't1', {
      spec: { container: { image: 'web:1', healthcheck: { test: ['CMD', 'true'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 } } },
    } as Partial<Task>);
    await waitFor('RUNNING', () => stateOf(m, node, 't1')?.state === TaskState.TASK_STATE_RUNNING);
    expect(stateOf(m, node, 't1')?.health).toBe(HealthState.HEALTH_STATE_HEALTHY);
    m.setDesiredState(node.id, 't1', TaskState.TASK_STATE_SHUTDOWN);
    await waitFor('SHUTDOWN', () => stateOf(m, node, 't1')?.state === TaskState.TASK_STATE_SHUTDOWN);
  });

  it('prepares a task whose desired state is READY, and starts it only when told', async () => {
    const m = await fakeManager();
    const node = await startNode(m);
    m.assign(node.id, 't1', { desiredState: TaskState.TASK_STATE_READY });
    await waitFor('READY', () => stateOf(m, node, 't1')?.state === TaskState.TASK_STATE_READY);
    expect(node.taskStates().get('t1')).toBe(TaskState.TASK_STATE_READY);
    m.setDesiredState(node.id, 't1', TaskState.TASK_STATE_RUNNING);
    await waitFor('RUNNING', () => stateOf(m, node, 't1')?.state === TaskState.TASK_STATE_RUNNING);
  });

  it('drops the tasks a change removes, and those a full set leaves out', async () => {
    const m = await fakeManager();
    const node = await startNode(m);
    for (const id of ['a', 'b', 'c']) m.assign(node.id, id);
    await waitFor('three tasks', () => node.taskCount() === 3);
    m.unassign(node.id, 'a');
    await waitFor('a dropped', () => !node.taskStates().has('a'));
    expect(node.taskCount()).toBe(2);
    m.setQuietly(node.id, [m.task(node.id, 'c')!]);
    m.sendFull(node.id);
    await waitFor('b dropped', () => !node.taskStates().has('b'));
    expect([...node.taskStates().keys()]).toEqual(['c']);
  });

  it('fails, completes and sickens tasks on command', async () => {
    const m = await fakeManager();
    const node = await startNode(m);
    node.failNewTasks((t) => t.spec?.container?.image === 'bad:1', 10);
    m.assign(node.id, 'bad', { spec: { container: { image: 'bad:1' } } } as Partial<Task>);
    for (const id of ['fail', 'done', 'sick']) m.assign(node.id, id);
    await waitFor('three RUNNING', () => ['fail', 'done', 'sick'].every((id) => stateOf(m, node, id)?.state === TaskState.TASK_STATE_RUNNING));
    node.failTask('fail', { exitCode: 3 });
    node.completeTask('done');
    node.makeUnhealthy('sick');
    await waitFor('every task to finish', () => ['bad', 'fail', 'done', 'sick'].every((id) => (stateOf(m, node, id)?.state ?? 0) > TaskState.TASK_STATE_RUNNING));
    expect(stateOf(m, node, 'bad')).toMatchObject({ state: TaskState.TASK_STATE_FAILED, exitCode: 1 });
    expect(stateOf(m, node, 'fail')).toMatchObject({ state: TaskState.TASK_STATE_FAILED, exitCode: 3, err: 'task: non-zero exit (3)' });
    expect(stateOf(m, node, 'done')).toMatchObject({ state: TaskState.TASK_STATE_COMPLETE, exitCode: 0 });
    expect(stateOf(m, node, 'sick')).toMatchObject({ state: TaskState.TASK_STATE_FAILED, health: HealthState.HEALTH_STATE_UNHEALTHY });
  });

  it('follows a follower’s refusal to the leader', async () => {
    const leader = await fakeManager();
    const follower = await fakeManager({ state: leader.state, active: false, leaderAddress: () => leader.address });
    const node = await startNode(leader, [follower.address]);
    expect(node.status()).toMatchObject({ state: 'connected', manager: leader.address });
    expect(leader.liveSession(node.id)).toBeDefined();
  });

  it('reconnects when its session ends, keeping its id and heartbeating', async () => {
    const m = await fakeManager();
    const node = await startNode(m);
    const id = node.id;
    m.deactivate();
    m.activate();
    await waitFor('a second session', () => node.status().sessionsOpened === 2);
    expect(node.id).toBe(id);
    const heartbeats = m.heartbeats;
    await waitFor('a heartbeat on the new session', () => m.heartbeats > heartbeats);
  });

  it('each node has its own certificate', async () => {
    const m = await fakeManager();
    const one = await startNode(m, [m.address], 'one');
    const two = await startNode(m, [m.address], 'two');
    expect(one.id).not.toBe(two.id);
    expect(m.liveSession(one.id)?.certificateFingerprint).not.toBe(m.liveSession(two.id)?.certificateFingerprint);
  });

  it('stops for good when the node is removed from the cluster', async () => {
    const m = await fakeManager();
    const node = await startNode(m);
    m.removeNode(node.id);
    await waitFor('removed', () => node.status().state === 'removed');
    expect(m.sessions).toHaveLength(1);
  });
});
