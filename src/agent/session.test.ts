import { afterEach, describe, expect, it } from 'vitest';
import type { SessionMessage } from '../../proto/gen/dispatcher.js';
import { TaskState } from '../../proto/gen/objects.js';
import { waitFor } from '../../test/support/wait-for.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { joinCluster, renewNodeCredentials, type NodeCredentials } from '../manager/ca/node-credentials.js';
import { AgentSession, type SessionEvents } from './session.js';
import type { SendStatus } from './status-reporter.js';
import { FakeManager, type FakeManagerOptions } from './testing/fake-manager.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function manager(opts: FakeManagerOptions = {}): Promise<FakeManager> {
  const m = await FakeManager.start(opts);
  cleanups.push(() => m.close());
  return m;
}

/** Records what the session tells the agent. */
class Recorder implements SessionEvents {
  readonly messages: SessionMessage[] = [];
  onlines = 0;
  offlines = 0;
  removedWith: string | undefined;
  send: SendStatus | undefined;
  message(msg: SessionMessage): void {
    this.messages.push(msg);
  }
  online(send: SendStatus): void {
    this.onlines++;
    this.send = send;
  }
  offline(): void {
    this.offlines++;
    this.send = undefined;
  }
  removed(message: string): void {
    this.removedWith = message;
  }
}

const join = (m: FakeManager): Promise<NodeCredentials> => joinCluster({ address: m.address, token: m.joinToken(), requestedRole: 'worker' });

function session(managers: string[], credentials: NodeCredentials, clock?: FakeClock): { session: AgentSession; events: Recorder } {
  const events = new Recorder();
  const s = new AgentSession({
    managers,
    credentials,
    description: () => ({ hostname: 'agent-test', platform: { os: 'linux', architecture: 'x86_64' }, resources: { nanoCpus: 2e9, memoryBytes: 2 ** 30 }, labels: { zone: 'a' } }),
    events,
    clock,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  cleanups.push(() => s.stop());
  return { session: s, events };
}

const RUNNING = { state: TaskState.TASK_STATE_RUNNING, timestamp: 1, message: 'started', err: '', exitCode: 0, health: 0, containerId: '', pid: 7 };

describe('AgentSession', () => {
  it('opens a session over mutual TLS as the node its certificate names, gets its full set then changes, and reports status', async () => {
    const m = await manager({ managerAddresses: () => ['10.0.0.1:4242'] });
    const creds = await join(m);
    m.setQuietly(creds.nodeId, []);
    m.assign(creds.nodeId, 'old');
    const { session: s, events } = session([m.address], creds);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    expect(s.nodeId).toBe(creds.nodeId);
    expect(m.liveSession(creds.nodeId)?.description).toMatchObject({ hostname: 'agent-test', labels: { zone: 'a' } });
    expect(s.connectedTo).toBe(m.address);
    // The cluster's manager list first, the join address kept as a last resort.
    expect(s.managers).toEqual(['10.0.0.1:4242', m.address]);
    expect(events.messages[0]).toMatchObject({ full: true, nodeId: creds.nodeId, removed: [] });
    expect(events.messages[0]!.updated.map((t) => t.meta?.id)).toEqual(['old']);

    m.assign(creds.nodeId, 't1');
    m.unassign(creds.nodeId, 'old');
    await waitFor('two changes', () => events.messages.length === 3);
    expect(events.messages[1]).toMatchObject({ full: false, removed: [] });
    expect(events.messages[1]!.updated.map((t) => t.meta?.id)).toEqual(['t1']);
    expect(events.messages[2]).toMatchObject({ full: false, updated: [], removed: ['old'] });

    await events.send!([{ taskId: 't1', status: RUNNING }]);
    expect(m.task(creds.nodeId, 't1')?.status?.state).toBe(TaskState.TASK_STATE_RUNNING);
    expect(m.statusReports).toMatchObject([{ nodeId: creds.nodeId }]);
  });

  it('heartbeats once per period the manager gives', async () => {
    const clock = new FakeClock();
    const m = await manager({ heartbeatPeriodMs: 1_000 });
    const { session: s, events } = session([m.address], await join(m), clock);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    clock.advance(999);
    expect(m.heartbeats).toBe(0);
    clock.advance(1);
    await waitFor('the first heartbeat', () => m.heartbeats === 1);
    // Its answer schedules the next one (the only timer then).
    await waitFor('the next heartbeat’s timer', () => clock.pendingTimers() === 1);
    clock.advance(1_000);
    await waitFor('the second heartbeat', () => m.heartbeats === 2);
    expect(events.onlines).toBe(1);
  });

  it('follows a follower’s refusal straight to the leader', async () => {
    const leader = await manager();
    const follower = await manager({ state: leader.state, active: false, leaderAddress: () => leader.address });
    const { session: s, events } = session([follower.address], await join(leader));
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    expect(s.connectedTo).toBe(leader.address);
  });

  it('moves on to the next manager when one is unreachable', async () => {
    const live = await manager();
    const dead = await FakeManager.start({ state: live.state });
    await dead.close();
    const { session: s, events } = session([dead.address, live.address], await join(live));
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    expect(s.connectedTo).toBe(live.address);
  });

  it('reconnects after losing its session, and gets the full set again', async () => {
    const m = await manager();
    const creds = await join(m);
    const { session: s, events } = session([m.address], creds);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    // The manager loses leadership with no leader known, then wins it back.
    m.deactivate();
    await waitFor('the session to drop', () => events.offlines === 1);
    m.activate();
    await waitFor('a second session', () => events.onlines === 2);
    expect(events.messages.at(-1)?.full).toBe(true);
    expect(m.sessions.filter((x) => x.nodeId === creds.nodeId)).toHaveLength(2);
  });

  it('opens a new session with a renewed certificate', async () => {
    const m = await manager();
    const creds = await join(m);
    const { session: s, events } = session([m.address], creds);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    const renewed = await renewNodeCredentials(creds, { address: m.address });
    s.updateCredentials(renewed);
    await waitFor('a second session', () => events.onlines === 2);
    const [first, second] = m.sessions;
    expect(first!.open).toBe(false);
    expect(second!.nodeId).toBe(creds.nodeId);
    expect(second!.certificateFingerprint).not.toBe(first!.certificateFingerprint);
    // Status reports go over the new connection.
    m.assign(creds.nodeId, 't1');
    await events.send!([{ taskId: 't1', status: RUNNING }]);
    expect(m.task(creds.nodeId, 't1')?.status?.state).toBe(TaskState.TASK_STATE_RUNNING);
  });

  it('stops for good when the node was removed from the cluster', async () => {
    const m = await manager();
    const creds = await join(m);
    const { session: s, events } = session([m.address], creds);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    m.removeNode(creds.nodeId);
    await waitFor('the removal', () => events.removedWith !== undefined);
    expect(events.removedWith).toMatch(/was removed/);
    expect(s.connectedTo).toBeUndefined();
    expect(m.sessions).toHaveLength(1);
  });
});
