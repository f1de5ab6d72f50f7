import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { DispatcherClient, SessionMessage } from '../../../proto/gen/dispatcher.js';
import { NodeState, Task, TaskState } from '../../../proto/gen/objects.js';
import { FakeClock } from '../../common/testing/fake-clock.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { createTestStore } from '../../store/testing/test-store.js';
import type { ReplicatedStore } from '../../store/replicated-store.js';
import { leaderAddressFrom } from './leader-hint.js';
import { openSession, promised, registered, seedCluster, TlsDispatchers, type ServedDispatcher } from './testing/tls-dispatchers.js';

const PERIOD_MS = 1000;
const CHECK_MS = 500;

/**
 * A leader (on 127.0.0.1) and a follower (on ::1, so that the address the leader records tells the
 * node's own connection from the follower's), sharing one store as Raft would make them.
 */
interface Cluster {
  tls: TlsDispatchers;
  store: ReplicatedStore;
  clock: FakeClock;
  leader: ServedDispatcher;
  follower: ServedDispatcher;
  /** Where the follower believes the leader is (itself: 'self'); tests move it. */
  believed: { current: string | undefined };
  nodeViaFollower: () => DispatcherClient;
}

let current: TlsDispatchers | undefined;
afterEach(() => {
  current?.close();
  current = undefined;
});

async function cluster(): Promise<Cluster> {
  const tls = new TlsDispatchers();
  current = tls;
  const { store } = createTestStore();
  await seedCluster(store, PERIOD_MS, ['node-a']);
  const clock = new FakeClock();
  const believed: { current: string | undefined } = { current: undefined };
  const common = { store, clock, managerAddresses: () => ['leader', 'follower'], raftCheckMs: CHECK_MS, assignmentDebounceMs: 10 };
  const leader = await tls.serve('manager-l', { ...common, leaderAddress: () => leader.address, isLeader: () => true });
  const follower = await tls.serve('manager-f', { ...common, leaderAddress: () => believed.current, isLeader: () => believed.current === follower.address }, '::1');
  believed.current = leader.address;
  leader.dispatcher.start();
  return { tls, store, clock, leader, follower, believed, nodeViaFollower: () => tls.client(follower.address, 'node-a') };
}

async function putTask(store: ReplicatedStore, id: string, desiredState = TaskState.TASK_STATE_RUNNING): Promise<void> {
  await store.update((tx) => {
    const existing = tx.tasks.get(id);
    const task = Task.fromPartial({ meta: { id, version: existing?.meta?.version ?? 0 }, nodeId: 'node-a', desiredState, status: { state: TaskState.TASK_STATE_ASSIGNED } });
    if (existing) tx.tasks.update(task);
    else tx.tasks.create(task);
  });
}

const heartbeat = (client: DispatcherClient, sessionId: string) => promised<{ periodMs: number }>((cb) => client.heartbeat({ sessionId }, cb));

describe('Dispatcher on a follower', () => {
  it('passes a node’s session, heartbeats and status reports on to the leader, which records the node’s own address', async () => {
    const c = await cluster();
    await putTask(c.store, 't1');
    const client = c.nodeViaFollower();
    const s = await registered(c.tls, client);
    expect(s.last()).toMatchObject({ nodeId: 'node-a', full: true, heartbeatPeriodMs: PERIOD_MS });
    expect(s.last().updated.map((t) => t.meta?.id)).toEqual(['t1']);
    const node = () => c.store.view((tx) => tx.nodes.get('node-a'));
    expect(node()?.status).toMatchObject({ state: NodeState.NODE_STATE_READY, addr: '::1' });
    // The network state passes through too, with the node's own address as its underlay.
    expect(s.messages[0]?.networkState).toEqual({ underlayAddress: '::1', networks: [], services: [] });

    await putTask(c.store, 't2');
    c.clock.advance(10);
    await waitFor('the change through the follower', () => s.messages.length === 2);
    expect(s.last()).toMatchObject({ full: false, removed: [] });
    expect(s.last().updated.map((t) => t.meta?.id)).toEqual(['t2']);

    expect((await heartbeat(client, s.sessionId)).periodMs).toBe(PERIOD_MS);
    await expect(heartbeat(client, 'stale')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await promised((cb) =>
      client.updateTaskStatus(
        { sessionId: s.sessionId, updates: [{ taskId: 't1', status: { state: TaskState.TASK_STATE_RUNNING, timestamp: 0, message: '', err: '', exitCode: 0, health: 0, containerId: '', pid: 0 } }] },
        cb,
      ),
    );
    expect(c.store.view((tx) => tx.tasks.get('t1')?.status?.state)).toBe(TaskState.TASK_STATE_RUNNING);
  });

  it('refuses callers without a worker certificate itself, before forwarding', async () => {
    const c = await cluster();
    const s = openSession(c.tls, c.tls.client(c.follower.address, 'manager-x', 'manager'));
    await waitFor('the refusal', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('ends proxied sessions UNAVAILABLE, naming the new leader, when the leader changes', async () => {
    const c = await cluster();
    const s = await registered(c.tls, c.nodeViaFollower());
    c.clock.advance(CHECK_MS);
    expect(s.error()).toBeUndefined();
    c.believed.current = '10.0.0.7:4242';
    c.clock.advance(CHECK_MS);
    await waitFor('the session to end', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
    expect(leaderAddressFrom(s.error()?.metadata)).toBe('10.0.0.7:4242');
  });

  it('ends proxied sessions UNAVAILABLE when it becomes the leader itself', async () => {
    const c = await cluster();
    const s = await registered(c.tls, c.nodeViaFollower());
    // No leader check runs (the fake clock stands still): only start() can end the proxied stream.
    c.believed.current = c.follower.address;
    c.follower.dispatcher.start();
    await waitFor('the session to end', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
    const again = await registered(c.tls, c.nodeViaFollower());
    expect(again.last().full).toBe(true);
  });

  it('never forwards twice: a forwarded call reaching a manager that does not lead is refused UNAVAILABLE', async () => {
    const c = await cluster();
    // The follower believes another follower leads (a stale view during an election).
    const other = await c.tls.serve('manager-o', { store: c.store, clock: c.clock, managerAddresses: () => [], leaderAddress: () => c.follower.address, isLeader: () => false });
    c.believed.current = other.address;
    const client = c.nodeViaFollower();
    const s = openSession(c.tls, client);
    await waitFor('the refusal', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
    expect(leaderAddressFrom(s.error()?.metadata)).toBe(c.follower.address);
    await expect(heartbeat(client, 's')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('refuses UNAVAILABLE when no leader is known', async () => {
    const c = await cluster();
    c.believed.current = undefined;
    const client = c.nodeViaFollower();
    const s = openSession(c.tls, client);
    await waitFor('the refusal', () => s.error() !== undefined);
    expect(s.error()?.code).toBe(grpc.status.UNAVAILABLE);
    expect(leaderAddressFrom(s.error()?.metadata)).toBeUndefined();
    await expect(heartbeat(client, 's')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect((s.messages as SessionMessage[]).length).toBe(0);
  });
});
