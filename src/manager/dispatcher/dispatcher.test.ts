import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { DispatcherClient, SessionMessage, TaskStatusUpdate } from '../../../proto/gen/dispatcher.js';
import { HealthState, Network, NodeState, Service, Task, TaskState, type Node } from '../../../proto/gen/objects.js';
import { FakeClock } from '../../common/testing/fake-clock.js';
import { waitFor } from '../../../test/support/wait-for.js';
import type { FakeProposer } from '../../store/testing/fake-proposer.js';
import { createTestStore } from '../../store/testing/test-store.js';
import type { ReplicatedStore } from '../../store/replicated-store.js';
import { NODE_ADDR_METADATA } from './caller.js';
import { HEARTBEAT_FAILURE, type Dispatcher } from './dispatcher.js';
import { leaderAddressFrom } from './leader-hint.js';
import { openSession, promised, registered, seedCluster, TlsDispatchers } from './testing/tls-dispatchers.js';

const PERIOD_MS = 1000;
const CHECK_MS = 1000;
const NODES = ['node-a', 'node-b'];

interface Harness {
  tls: TlsDispatchers;
  store: ReplicatedStore;
  proposer: FakeProposer;
  clock: FakeClock;
  dispatcher: Dispatcher;
  address: string;
  managers: string[];
  client: (nodeId?: string) => DispatcherClient;
}

let current: TlsDispatchers | undefined;
afterEach(() => {
  current?.close();
  current = undefined;
});

async function harness(active = true): Promise<Harness> {
  const tls = new TlsDispatchers();
  current = tls;
  const { store, proposer } = createTestStore();
  await seedCluster(store, PERIOD_MS, NODES);
  const clock = new FakeClock();
  const managers = ['127.0.0.1:1'];
  const served = await tls.serve('manager-1', {
    store,
    clock,
    leaderAddress: () => '10.0.0.9:4242',
    isLeader: () => active,
    managerAddresses: () => [...managers],
    raftCheckMs: CHECK_MS,
  });
  if (active) served.dispatcher.start();
  return {
    tls,
    store,
    proposer,
    clock,
    dispatcher: served.dispatcher,
    address: served.address,
    managers,
    client: (nodeId = 'node-a') => tls.client(served.address, nodeId),
  };
}

function node(h: Harness, id: string): Node | undefined {
  return h.store.view((tx) => tx.nodes.get(id));
}

async function putTask(h: Harness, id: string, nodeId: string, state: TaskState, desiredState = TaskState.TASK_STATE_RUNNING): Promise<void> {
  await h.store.update((tx) => {
    const existing = tx.tasks.get(id);
    const task = Task.fromPartial({ meta: { id, version: existing?.meta?.version ?? 0 }, serviceId: 'svc', slot: 1, nodeId, desiredState, status: { state } });
    if (existing) tx.tasks.update(task);
    else tx.tasks.create(task);
  });
}

async function deleteTask(h: Harness, id: string): Promise<void> {
  await h.store.update((tx) => tx.tasks.delete(tx.tasks.get(id)!));
}

const ids = (tasks: readonly Task[]) => tasks.map((t) => t.meta?.id ?? '');

/** Moves the fake clock past the debounce, then waits until the session holds `count` messages. */
async function nextMessage(h: Harness, s: { messages: SessionMessage[] }, count: number): Promise<SessionMessage> {
  h.clock.advance(50);
  await waitFor(`session message ${count}`, () => s.messages.length >= count);
  expect(s.messages).toHaveLength(count);
  return s.messages[count - 1];
}

const heartbeat = (client: DispatcherClient, sessionId: string) => promised<{ periodMs: number }>((cb) => client.heartbeat({ sessionId }, cb));
const report = (client: DispatcherClient, sessionId: string, updates: TaskStatusUpdate[]) =>
  promised<object>((cb) => client.updateTaskStatus({ sessionId, updates }, cb));

const status = (state: TaskState, health = HealthState.HEALTH_STATE_NONE) => ({ state, timestamp: 0, message: '', err: '', exitCode: 0, health, containerId: '', pid: 0 });

describe('Dispatcher: who may call', () => {
  it('refuses callers without a worker certificate: none is UNAUTHENTICATED, a manager’s PERMISSION_DENIED', async () => {
    const h = await harness();
    for (const [role, code] of [
      ['none', grpc.status.UNAUTHENTICATED],
      ['manager', grpc.status.PERMISSION_DENIED],
    ] as const) {
      const client = h.tls.client(h.address, 'manager-2', role);
      const s = openSession(h.tls, client);
      await waitFor('the refusal', () => s.error() !== undefined);
      expect(s.error()?.code).toBe(code);
      await expect(heartbeat(client, 's')).rejects.toMatchObject({ code });
      await expect(report(client, 's', [])).rejects.toMatchObject({ code });
    }
    expect(node(h, 'manager-2')).toBeUndefined();
  });

  it('refuses a session for a removed node and for one that never joined, in words the agent treats as final', async () => {
    const h = await harness();
    await h.store.update((tx) => {
      const cluster = tx.clusters.get('cluster')!;
      tx.clusters.update({ ...cluster, removedNodes: { removedAt: { 'node-gone': 1 } } });
    });
    const gone = openSession(h.tls, h.client('node-gone'));
    const stranger = openSession(h.tls, h.client('node-stranger'));
    await waitFor('both refusals', () => gone.error() !== undefined && stranger.error() !== undefined);
    expect(gone.error()).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'node node-gone was removed from the cluster' });
    expect(stranger.error()).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'node node-stranger is not part of the cluster' });
    expect(h.store.view((tx) => tx.nodes.count())).toBe(NODES.length);
  });

  it('registers the node its certificate names: READY at its address, description refreshed; a new session replaces the old', async () => {
    const h = await harness();
    const client = h.client('node-a');
    const first = await registered(h.tls, client);
    expect(first.last()).toMatchObject({ nodeId: 'node-a', heartbeatPeriodMs: PERIOD_MS, managers: ['127.0.0.1:1'], full: true, updated: [], removed: [] });
    expect(node(h, 'node-a')?.status).toMatchObject({ state: NodeState.NODE_STATE_READY, addr: '127.0.0.1' });
    expect(node(h, 'node-a')?.description).toMatchObject({ hostname: 'node-a', labels: { disk: 'ssd' } });

    const again = await registered(h.tls, client, 'node-a-renamed');
    expect(again.sessionId).not.toBe(first.sessionId);
    expect(node(h, 'node-a')?.description?.hostname).toBe('node-a-renamed');
    await waitFor('the old session to end', () => first.error() !== undefined);
    expect(first.error()?.code).toBe(grpc.status.ABORTED);
    expect(node(h, 'node-a')?.status?.state).toBe(NodeState.NODE_STATE_READY);
  });

  it('ignores an address a worker claims for itself (only a forwarding manager’s is believed)', async () => {
    const h = await harness();
    const metadata = new grpc.Metadata();
    metadata.set(NODE_ADDR_METADATA, '203.0.113.7');
    const call = h.client('node-a').session({ description: { hostname: 'node-a', labels: {} } }, metadata);
    const messages: SessionMessage[] = [];
    call.on('data', (m: SessionMessage) => messages.push(m));
    call.on('error', () => undefined);
    h.tls.onCleanup(() => call.cancel());
    await waitFor('the first message', () => messages.length > 0);
    expect(node(h, 'node-a')?.status?.addr).toBe('127.0.0.1');
  });
});

describe('Dispatcher: assignments', () => {
  it('sends the full set first, then only what changed: additions, desired states, removals, reassignments', async () => {
    const h = await harness();
    await putTask(h, 't-pending', 'node-a', TaskState.TASK_STATE_PENDING);
    await putTask(h, 't-assigned', 'node-a', TaskState.TASK_STATE_ASSIGNED);
    await putTask(h, 't-elsewhere', 'node-b', TaskState.TASK_STATE_ASSIGNED);
    await putTask(h, 't-failed', 'node-a', TaskState.TASK_STATE_FAILED);
    await putTask(h, 't-done', 'node-a', TaskState.TASK_STATE_SHUTDOWN, TaskState.TASK_STATE_SHUTDOWN);
    const a = await registered(h.tls, h.client('node-a'));
    const b = await registered(h.tls, h.client('node-b'));
    expect(a.last().full).toBe(true);
    expect(ids(a.last().updated)).toEqual(['t-assigned', 't-failed']);

    await putTask(h, 't-new', 'node-a', TaskState.TASK_STATE_ASSIGNED);
    expect(await nextMessage(h, a, 2)).toMatchObject({ full: false, removed: [] });
    expect(ids(a.last().updated)).toEqual(['t-new']);

    await putTask(h, 't-assigned', 'node-a', TaskState.TASK_STATE_ASSIGNED, TaskState.TASK_STATE_SHUTDOWN);
    await nextMessage(h, a, 3);
    expect(a.last().updated.map((t) => [t.meta?.id, t.desiredState])).toEqual([['t-assigned', TaskState.TASK_STATE_SHUTDOWN]]);

    await deleteTask(h, 't-failed');
    expect(await nextMessage(h, a, 4)).toMatchObject({ full: false, updated: [], removed: ['t-failed'] });

    await putTask(h, 't-new', 'node-b', TaskState.TASK_STATE_ASSIGNED);
    expect(await nextMessage(h, a, 5)).toMatchObject({ updated: [], removed: ['t-new'] });
    await waitFor('node-b’s message', () => b.messages.length === 2);
    expect(ids(b.last().updated)).toEqual(['t-new']);
    expect(b.last().full).toBe(false);
  });

  it('sends nothing when only the node’s own status changed', async () => {
    const h = await harness();
    await putTask(h, 't1', 'node-a', TaskState.TASK_STATE_ASSIGNED);
    const client = h.client('node-a');
    const s = await registered(h.tls, client);
    await report(client, s.sessionId, [{ taskId: 't1', status: status(TaskState.TASK_STATE_RUNNING) }]);
    expect(h.store.view((tx) => tx.tasks.get('t1')?.status?.state)).toBe(TaskState.TASK_STATE_RUNNING);
    h.clock.advance(50);
    // The next change the node must act on is the very next message.
    await putTask(h, 't2', 'node-a', TaskState.TASK_STATE_ASSIGNED);
    expect(ids((await nextMessage(h, s, 2)).updated)).toEqual(['t2']);
  });

  it('debounces a burst of changes into one message', async () => {
    const h = await harness();
    const s = await registered(h.tls, h.client('node-a'));
    for (let i = 0; i < 5; i++) await putTask(h, `t${i}`, 'node-a', TaskState.TASK_STATE_ASSIGNED);
    expect(ids((await nextMessage(h, s, 2)).updated).sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });

  it('tells every node of a new heartbeat period and a new manager list, with no task changes', async () => {
    const h = await harness();
    const s = await registered(h.tls, h.client('node-a'));
    await h.store.update((tx) => {
      const cluster = tx.clusters.get('cluster')!;
      tx.clusters.update({ ...cluster, spec: { ...cluster.spec!, heartbeatPeriodMs: 2 * PERIOD_MS } });
    });
    expect(await nextMessage(h, s, 2)).toMatchObject({ heartbeatPeriodMs: 2 * PERIOD_MS, full: false, updated: [], removed: [] });

    h.managers.push('127.0.0.1:2');
    h.clock.advance(CHECK_MS);
    expect(await nextMessage(h, s, 3)).toMatchObject({ managers: ['127.0.0.1:1', '127.0.0.1:2'], updated: [], removed: [] });
  });
});

describe('Dispatcher: heartbeats and status', () => {
  it('writes status reports that move forward, for the reporting node’s own tasks only', async () => {
    const h = await harness();
    const client = h.client('node-a');
    const s = await registered(h.tls, client);
    await putTask(h, 'mine', 'node-a', TaskState.TASK_STATE_ASSIGNED);
    await putTask(h, 'running', 'node-a', TaskState.TASK_STATE_RUNNING);
    await putTask(h, 'theirs', 'node-b', TaskState.TASK_STATE_ASSIGNED);
    await report(client, s.sessionId, [
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
  });

  it('refuses heartbeats and reports for a session it does not know, or another node’s', async () => {
    const h = await harness();
    const a = h.client('node-a');
    const s = await registered(h.tls, a);
    await expect(heartbeat(a, 'stale-session')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(report(a, 'stale-session', [])).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(heartbeat(h.client('node-b'), s.sessionId)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect((await heartbeat(a, s.sessionId)).periodMs).toBe(PERIOD_MS);
  });

  it('marks a node down after three missed heartbeat periods, not before', async () => {
    const h = await harness();
    const client = h.client('node-a');
    const s = await registered(h.tls, client);
    h.clock.advance(2 * PERIOD_MS);
    await heartbeat(client, s.sessionId);
    const proposals = h.proposer.proposals.length;
    h.clock.advance(3 * PERIOD_MS - 1);
    expect(h.proposer.proposals).toHaveLength(proposals);
    h.clock.advance(1);
    await waitFor('the node to be down', () => node(h, 'node-a')?.status?.state === NodeState.NODE_STATE_DOWN);
    expect(node(h, 'node-a')?.status?.message).toBe(HEARTBEAT_FAILURE);
    await waitFor('the session to end', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('marks a node whose session ended down only when its heartbeat deadline passes', async () => {
    const h = await harness();
    const s = await registered(h.tls, h.client('node-a'));
    s.call.cancel();
    await waitFor('the session to be gone', () => s.error() !== undefined);
    h.clock.advance(3 * PERIOD_MS - 1);
    expect(node(h, 'node-a')?.status?.state).toBe(NodeState.NODE_STATE_READY);
    h.clock.advance(1);
    await waitFor('the node to be down', () => node(h, 'node-a')?.status?.state === NodeState.NODE_STATE_DOWN);
  });

  it('closes every session with the leader’s address when leadership ends, and does not mark those nodes down', async () => {
    const h = await harness();
    const s = await registered(h.tls, h.client('node-a'));
    h.dispatcher.stop();
    await waitFor('the session to end', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
    expect(leaderAddressFrom(s.error()?.metadata)).toBe('10.0.0.9:4242');
    h.clock.advance(10 * PERIOD_MS);
    expect(node(h, 'node-a')?.status?.state).toBe(NodeState.NODE_STATE_READY);
  });

  it('gives READY nodes a new leader inherits three periods to reconnect', async () => {
    const h = await harness(false);
    await h.store.update((tx) => {
      for (const id of NODES) tx.nodes.update({ ...tx.nodes.get(id)!, status: { state: NodeState.NODE_STATE_READY, message: '', addr: '' } });
    });
    h.dispatcher.start();
    h.clock.advance(PERIOD_MS);
    await registered(h.tls, h.client('node-a'));
    h.clock.advance(2 * PERIOD_MS);
    await waitFor('the silent node to be down', () => node(h, 'node-b')?.status?.state === NodeState.NODE_STATE_DOWN);
    expect(node(h, 'node-a')?.status?.state).toBe(NodeState.NODE_STATE_READY);
  });

  it('ends the session of a node that is removed, saying so', async () => {
    const h = await harness();
    const s = await registered(h.tls, h.client('node-a'));
    await h.store.update((tx) => tx.nodes.delete(tx.nodes.get('node-a')!));
    await waitFor('the session to end', () => s.error() !== undefined);
    expect(s.error()).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'node node-a was removed from the cluster' });
  });
});

describe('Dispatcher: network state', () => {
  async function putNetworkTask(h: Harness, id: string, nodeId: string, address: string, state: TaskState): Promise<void> {
    await h.store.update((tx) => {
      const existing = tx.tasks.get(id);
      const task = Task.fromPartial({
        meta: { id, version: existing?.meta?.version ?? 0 },
        serviceId: 'svc',
        slot: 1,
        nodeId,
        desiredState: TaskState.TASK_STATE_RUNNING,
        status: { state },
        networks: [{ networkId: 'back', address }],
      });
      if (existing) tx.tasks.update(task);
      else tx.tasks.create(task);
    });
  }

  it('sends the whole state in the first message, then again only when it changed, with the assignments that need it', async () => {
    const h = await harness();
    await h.store.update((tx) => {
      tx.networks.create(Network.fromPartial({ meta: { id: 'back' }, spec: { annotations: { name: 'back' } }, vni: 4097, subnet: '10.0.0.0/24', gateway: '10.0.0.1' }));
      tx.services.create(Service.fromPartial({ meta: { id: 'svc' }, spec: { annotations: { name: 'web' } }, endpoint: { virtualIps: [{ networkId: 'back', address: '10.0.0.2/24' }] } }));
    });
    await putNetworkTask(h, 't1', 'node-a', '10.0.0.3/24', TaskState.TASK_STATE_RUNNING);
    const a = await registered(h.tls, h.client('node-a'));
    const b = await registered(h.tls, h.client('node-b'));
    expect(a.last().networkState).toMatchObject({ underlayAddress: '127.0.0.1', networks: [{ network: { vni: 4097 }, nodeAddress: '', peers: [] }] });
    expect(a.last().networkState?.services.map((s) => [s.name, s.tasks.map((t) => t.taskId)])).toEqual([['web', ['t1']]]);
    expect(b.last().networkState).toEqual({ underlayAddress: '127.0.0.1', networks: [], services: [] });

    // A task of the network is placed on node-b: it comes with node-b's new state; node-a's peers change.
    await putNetworkTask(h, 't2', 'node-b', '10.0.0.4/24', TaskState.TASK_STATE_ASSIGNED);
    const toB = await nextMessage(h, b, 2);
    expect(ids(toB.updated)).toEqual(['t2']);
    expect(toB.networkState?.networks[0]?.peers).toEqual([{ address: '10.0.0.3/24', underlayAddress: '127.0.0.1' }]);
    await waitFor('node-a’s new state', () => a.messages.length === 2);
    expect(a.last()).toMatchObject({ updated: [], removed: [] });
    expect(a.last().networkState?.networks[0]?.peers).toEqual([{ address: '10.0.0.4/24', underlayAddress: '127.0.0.1' }]);

    // Steps before RUNNING show nowhere; RUNNING puts t2 among web's tasks for both nodes.
    await putNetworkTask(h, 't2', 'node-b', '10.0.0.4/24', TaskState.TASK_STATE_PREPARING);
    h.clock.advance(50);
    await putNetworkTask(h, 't2', 'node-b', '10.0.0.4/24', TaskState.TASK_STATE_RUNNING);
    const next = await nextMessage(h, a, 3);
    expect(next.networkState?.services[0]?.tasks.map((t) => t.taskId)).toEqual(['t1', 't2']);
    await waitFor('node-b’s new state', () => b.messages.length === 3);
    expect(b.messages.slice(2).every((m) => m.updated.length === 0 && m.networkState !== undefined)).toBe(true);
  });
});
