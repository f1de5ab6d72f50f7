import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DispatcherClient,
  DispatcherService,
  type SessionMessage,
  type TaskStatusUpdate,
} from '../../../proto/gen/dispatcher.js';
import { Cluster, HealthState, NodeState, Task, TaskState, type Node } from '../../../proto/gen/objects.js';
import { FakeClock } from '../../common/testing/fake-clock.js';
import { waitFor } from '../../../test/support/wait-for.js';
import type { FakeProposer } from '../../store/testing/fake-proposer.js';
import { createTestStore } from '../../store/testing/test-store.js';
import type { ReplicatedStore } from '../../store/replicated-store.js';
import { Dispatcher, HEARTBEAT_FAILURE } from './dispatcher.js';
import { leaderAddressFrom } from './leader-hint.js';

const PERIOD_MS = 1000;
const LEADER = '10.0.0.9:4242';

interface Harness {
  store: ReplicatedStore;
  proposer: FakeProposer;
  clock: FakeClock;
  dispatcher: Dispatcher;
  client: DispatcherClient;
}

interface OpenSession {
  call: grpc.ClientReadableStream<SessionMessage>;
  messages: SessionMessage[];
  error: () => grpc.ServiceError | undefined;
  last: () => SessionMessage;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function harness(active = true): Promise<Harness> {
  const { store, proposer } = createTestStore();
  await store.update((tx) =>
    tx.clusters.create(Cluster.fromPartial({ meta: { id: 'cluster' }, spec: { heartbeatPeriodMs: PERIOD_MS, taskHistoryRetentionLimit: 5 } })),
  );
  const clock = new FakeClock();
  const dispatcher = new Dispatcher({ store, clock, leaderAddress: () => LEADER, managerAddresses: () => ['127.0.0.1:1'] });
  const server = new grpc.Server();
  server.addService(DispatcherService, dispatcher.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new DispatcherClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => {
    dispatcher.stop();
    client.close();
    server.forceShutdown();
  });
  if (active) dispatcher.start();
  return { store, proposer, clock, dispatcher, client };
}

function openSession(h: Harness, nodeId = '', hostname = 'node-a'): OpenSession {
  const call = h.client.session({ nodeId, description: { hostname, labels: { disk: 'ssd' } } });
  const messages: SessionMessage[] = [];
  let error: grpc.ServiceError | undefined;
  call.on('data', (m: SessionMessage) => messages.push(m));
  call.on('error', (err: grpc.ServiceError) => (error = err));
  cleanups.push(() => call.cancel());
  return { call, messages, error: () => error, last: () => messages[messages.length - 1] };
}

async function registered(h: Harness, nodeId = '', hostname = 'node-a'): Promise<OpenSession & { nodeId: string; sessionId: string }> {
  const s = openSession(h, nodeId, hostname);
  await waitFor('the first session message', () => s.messages.length > 0);
  return { ...s, nodeId: s.messages[0].nodeId, sessionId: s.messages[0].sessionId };
}

function node(h: Harness, id: string): Node | undefined {
  return h.store.view((tx) => tx.nodes.get(id));
}

async function putTask(h: Harness, id: string, nodeId: string, state: TaskState, desiredState = TaskState.TASK_STATE_RUNNING): Promise<void> {
  await h.store.update((tx) => {
    const existing = tx.tasks.get(id);
    const task = Task.fromPartial({
      meta: { id, version: existing?.meta?.version ?? 0 },
      serviceId: 'svc',
      slot: 1,
      nodeId,
      desiredState,
      status: { state },
    });
    if (existing) tx.tasks.update(task);
    else tx.tasks.create(task);
  });
}

function assignedIds(m: SessionMessage): string[] {
  return m.assignments.map((t) => t.meta?.id ?? '');
}

function heartbeat(h: Harness, nodeId: string, sessionId: string): Promise<number> {
  return new Promise((resolve, reject) =>
    h.client.heartbeat({ nodeId, sessionId }, (err, res) => (err ? reject(err) : resolve(res.periodMs))),
  );
}

function report(h: Harness, nodeId: string, sessionId: string, updates: TaskStatusUpdate[]): Promise<void> {
  return new Promise((resolve, reject) =>
    h.client.updateTaskStatus({ nodeId, sessionId, updates }, (err) => (err ? reject(err) : resolve())),
  );
}

const status = (state: TaskState, health = HealthState.HEALTH_STATE_NONE) => ({
  state,
  timestamp: 0,
  message: '',
  err: '',
  exitCode: 0,
  health,
  containerId: '',
  pid: 0,
});

describe('Dispatcher', () => {
  it('registers a new node as a READY worker and re-registers it under its id', async () => {
    const h = await harness();
    const first = await registered(h);
    expect(first.nodeId).toMatch(/^[0-9a-z]{25}$/);
    expect(first.last()).toMatchObject({ heartbeatPeriodMs: PERIOD_MS, managers: ['127.0.0.1:1'], assignments: [] });
    const n = node(h, first.nodeId);
    expect(n?.status).toMatchObject({ state: NodeState.NODE_STATE_READY, addr: '127.0.0.1' });
    expect(n?.description).toMatchObject({ hostname: 'node-a', labels: { disk: 'ssd' } });
    expect(n?.spec).toMatchObject({ availability: 0, desiredRole: 0 });

    const again = await registered(h, first.nodeId, 'node-a-renamed');
    expect(again.nodeId).toBe(first.nodeId);
    expect(again.sessionId).not.toBe(first.sessionId);
    expect(node(h, first.nodeId)?.description?.hostname).toBe('node-a-renamed');
    // The older session was replaced, and replacing it did not mark the node down.
    await waitFor('the old session to end', () => first.error() !== undefined);
    expect(first.error()?.code).toBe(grpc.status.ABORTED);
    expect(node(h, first.nodeId)?.status?.state).toBe(NodeState.NODE_STATE_READY);
    expect(h.store.view((tx) => tx.nodes.count())).toBe(1);
  });

  it('refuses a node id the cluster does not know (a removed node)', async () => {
    const h = await harness();
    const s = openSession(h, 'no-such-node');
    await waitFor('the refusal', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.NOT_FOUND);
    expect(s.error()?.details).toMatch(/removed/);
  });

  it('streams the tasks placed on the node, again whenever their desired state changes', async () => {
    const h = await harness();
    const s = await registered(h);
    await putTask(h, 't-pending', s.nodeId, TaskState.TASK_STATE_PENDING);
    await putTask(h, 't-assigned', s.nodeId, TaskState.TASK_STATE_ASSIGNED);
    await putTask(h, 't-elsewhere', 'other-node', TaskState.TASK_STATE_ASSIGNED);
    await putTask(h, 't-failed', s.nodeId, TaskState.TASK_STATE_FAILED);
    await putTask(h, 't-done', s.nodeId, TaskState.TASK_STATE_SHUTDOWN, TaskState.TASK_STATE_SHUTDOWN);
    h.clock.advance(50);
    await waitFor('the assignment set', () => s.messages.length === 2);
    expect(assignedIds(s.last())).toEqual(['t-assigned', 't-failed']);

    // The node's own progress is not echoed back...
    await putTask(h, 't-assigned', s.nodeId, TaskState.TASK_STATE_RUNNING);
    h.clock.advance(50);
    // ...but a new desired state is.
    await putTask(h, 't-assigned', s.nodeId, TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_SHUTDOWN);
    h.clock.advance(50);
    await waitFor('the shutdown order', () => s.messages.length === 3);
    expect(s.last().assignments.find((t) => t.meta?.id === 't-assigned')?.desiredState).toBe(TaskState.TASK_STATE_SHUTDOWN);
    expect(s.messages).toHaveLength(3);
  });

  it('debounces a burst of changes into one message', async () => {
    const h = await harness();
    const s = await registered(h);
    for (let i = 0; i < 5; i++) await putTask(h, `t${i}`, s.nodeId, TaskState.TASK_STATE_ASSIGNED);
    h.clock.advance(50);
    await waitFor('the assignment set', () => s.messages.length === 2);
    expect(assignedIds(s.last())).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });

  it('writes status reports that move forward, for the reporting node’s own tasks only', async () => {
    const h = await harness();
    const s = await registered(h);
    await putTask(h, 'mine', s.nodeId, TaskState.TASK_STATE_ASSIGNED);
    await putTask(h, 'running', s.nodeId, TaskState.TASK_STATE_RUNNING);
    await putTask(h, 'theirs', 'other-node', TaskState.TASK_STATE_ASSIGNED);
    await report(h, s.nodeId, s.sessionId, [
      { taskId: 'mine', status: status(TaskState.TASK_STATE_ACCEPTED) },
      { taskId: 'mine', status: status(TaskState.TASK_STATE_PREPARING) },
      { taskId: 'running', status: status(TaskState.TASK_STATE_STARTING) },
      { taskId: 'theirs', status: status(TaskState.TASK_STATE_RUNNING) },
      { taskId: 'unknown', status: status(TaskState.TASK_STATE_RUNNING) },
    ]);
    const state = (id: string) => h.store.view((tx) => tx.tasks.get(id)?.status);
    expect(state('mine')?.state).toBe(TaskState.TASK_STATE_PREPARING);
    expect(state('mine')?.timestamp).toBeGreaterThan(0);
    expect(state('running')?.state).toBe(TaskState.TASK_STATE_RUNNING);
    expect(state('theirs')?.state).toBe(TaskState.TASK_STATE_ASSIGNED);

    // Health changes within RUNNING are news; the same report twice is not.
    await report(h, s.nodeId, s.sessionId, [{ taskId: 'running', status: status(TaskState.TASK_STATE_RUNNING, HealthState.HEALTH_STATE_HEALTHY) }]);
    const version = h.store.view((tx) => tx.tasks.get('running')?.meta?.version);
    expect(state('running')?.health).toBe(HealthState.HEALTH_STATE_HEALTHY);
    await report(h, s.nodeId, s.sessionId, [{ taskId: 'running', status: status(TaskState.TASK_STATE_RUNNING, HealthState.HEALTH_STATE_HEALTHY) }]);
    expect(h.store.view((tx) => tx.tasks.get('running')?.meta?.version)).toBe(version);
  });

  it('refuses heartbeats and reports for a session it does not know', async () => {
    const h = await harness();
    const s = await registered(h);
    await expect(heartbeat(h, s.nodeId, 'stale-session')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(report(h, s.nodeId, 'stale-session', [])).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await heartbeat(h, s.nodeId, s.sessionId)).toBe(PERIOD_MS);
  });

  it('marks a node down after three missed heartbeat periods, not before', async () => {
    const h = await harness();
    const s = await registered(h);
    h.clock.advance(2 * PERIOD_MS);
    await heartbeat(h, s.nodeId, s.sessionId);
    const proposals = h.proposer.proposals.length;
    h.clock.advance(3 * PERIOD_MS - 1);
    expect(h.proposer.proposals).toHaveLength(proposals);
    h.clock.advance(1);
    await waitFor('the node to be down', () => node(h, s.nodeId)?.status?.state === NodeState.NODE_STATE_DOWN);
    expect(node(h, s.nodeId)?.status?.message).toBe(HEARTBEAT_FAILURE);
    await waitFor('the session to end', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('marks a node whose session ended down only when its heartbeat deadline passes', async () => {
    const h = await harness();
    const s = await registered(h);
    s.call.cancel();
    await waitFor('the session to be gone', () => s.error() !== undefined);
    h.clock.advance(3 * PERIOD_MS - 1);
    expect(node(h, s.nodeId)?.status?.state).toBe(NodeState.NODE_STATE_READY);
    h.clock.advance(1);
    await waitFor('the node to be down', () => node(h, s.nodeId)?.status?.state === NodeState.NODE_STATE_DOWN);
    expect(node(h, s.nodeId)?.status?.message).toBe(HEARTBEAT_FAILURE);
  });

  it('on a follower, turns nodes away with the leader’s address', async () => {
    const h = await harness(false);
    const s = openSession(h);
    await waitFor('the refusal', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
    expect(leaderAddressFrom(s.error()?.metadata)).toBe(LEADER);
    await expect(heartbeat(h, 'n', 's')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('closes every session when leadership ends, and does not mark those nodes down', async () => {
    const h = await harness();
    const s = await registered(h);
    h.dispatcher.stop();
    await waitFor('the session to end', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
    expect(leaderAddressFrom(s.error()?.metadata)).toBe(LEADER);
    h.clock.advance(10 * PERIOD_MS);
    expect(node(h, s.nodeId)?.status?.state).toBe(NodeState.NODE_STATE_READY);
  });

  it('gives READY nodes a new leader inherits three periods to reconnect', async () => {
    const h = await harness(false);
    await h.store.update((tx) => {
      for (const id of ['comes-back', 'gone']) {
        tx.nodes.create({ meta: { id, version: 0, createdAt: 0, updatedAt: 0 }, status: { state: NodeState.NODE_STATE_READY, message: '', addr: '' }, role: 0 });
      }
    });
    h.dispatcher.start();
    h.clock.advance(PERIOD_MS);
    const s = await registered(h, 'comes-back');
    h.clock.advance(2 * PERIOD_MS);
    await waitFor('the silent node to be down', () => node(h, 'gone')?.status?.state === NodeState.NODE_STATE_DOWN);
    expect(node(h, s.nodeId)?.status?.state).toBe(NodeState.NODE_STATE_READY);
  });

  it('ends the session of a node that is removed', async () => {
    const h = await harness();
    const s = await registered(h);
    await h.store.update((tx) => {
      const n = tx.nodes.get(s.nodeId);
      if (n) tx.nodes.delete(n);
    });
    await waitFor('the session to end', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.NOT_FOUND);
  });
});
