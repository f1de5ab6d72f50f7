import { afterEach, describe, expect, it } from 'vitest';
import type { SessionMessage } from '../../proto/gen/dispatcher.js';
import { NodeState, TaskState } from '../../proto/gen/objects.js';
import { waitFor } from '../../test/support/wait-for.js';
import { AgentSession, type SessionEvents } from './session.js';
import type { SendStatus } from './status-reporter.js';
import { assignTask, startInProcessManager, storedTask, type InProcessManager } from './testing/in-process-manager.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

async function manager(opts: Parameters<typeof startInProcessManager>[0]): Promise<InProcessManager> {
  const m = await startInProcessManager(opts);
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

function session(managers: string[], nodeId = ''): { session: AgentSession; events: Recorder } {
  const events = new Recorder();
  const s = new AgentSession({
    managers,
    nodeId,
    description: () => ({ hostname: 'agent-test', platform: { os: 'linux', architecture: 'x86_64' }, resources: { nanoCpus: 2e9, memoryBytes: 2 ** 30 }, labels: { zone: 'a' } }),
    events,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  cleanups.push(() => s.stop());
  return { session: s, events };
}

const nodeOf = (m: InProcessManager, id: string) => m.store.view((tx) => tx.nodes.get(id));

describe('AgentSession', () => {
  it('registers the node with its description, streams its assignments and reports status', async () => {
    const m = await manager({ active: true, managerAddresses: () => ['10.0.0.1:4242'] });
    const { session: s, events } = session([m.address]);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    const nodeId = s.nodeId;
    expect(nodeId).toMatch(/^[a-z0-9]{25}$/);
    expect(nodeOf(m, nodeId)?.description).toMatchObject({ hostname: 'agent-test', labels: { zone: 'a' } });
    expect(s.connectedTo).toBe(m.address);
    // The cluster's manager list first, the join address kept as a last resort.
    expect(s.managers).toEqual(['10.0.0.1:4242', m.address]);

    await assignTask(m, 't1', nodeId);
    await waitFor('the assignment', () => events.messages.some((msg) => msg.assignments.some((t) => t.meta?.id === 't1')));
    await events.send!([{ taskId: 't1', status: { state: TaskState.TASK_STATE_ACCEPTED, timestamp: 1, message: 'accepted', err: '', exitCode: 0, health: 0, containerId: '', pid: 0 } }]);
    expect(storedTask(m, 't1')?.status?.state).toBe(TaskState.TASK_STATE_ACCEPTED);
  });

  it('heartbeats at the period the manager gives, so the node stays ready', async () => {
    const m = await manager({ active: true, heartbeatPeriodMs: 100 });
    const { session: s, events } = session([m.address]);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    // Ten periods: a node that did not heartbeat would be marked down after three.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(nodeOf(m, s.nodeId)?.status?.state).toBe(NodeState.NODE_STATE_READY);
    expect(events.onlines).toBe(1);
  });

  it('follows a follower’s refusal straight to the leader', async () => {
    const leader = await manager({ active: true });
    const follower = await manager({ active: false, leaderAddress: () => leader.address });
    const { session: s, events } = session([follower.address]);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    expect(s.connectedTo).toBe(leader.address);
    expect(nodeOf(leader, s.nodeId)?.status?.state).toBe(NodeState.NODE_STATE_READY);
  });

  it('moves on to the next manager when one is unreachable', async () => {
    const dead = await manager({ active: true });
    dead.close();
    const live = await manager({ active: true });
    const { session: s, events } = session([dead.address, live.address]);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    expect(s.connectedTo).toBe(live.address);
  });

  it('reconnects after losing its session, as the same node', async () => {
    const m = await manager({ active: true });
    const { session: s, events } = session([m.address]);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    const id = s.nodeId;
    // The manager loses leadership with no leader known, then wins it back.
    m.dispatcher.stop();
    await waitFor('the session to drop', () => events.offlines === 1);
    m.dispatcher.start();
    await waitFor('a second session', () => events.onlines === 2);
    expect(s.nodeId).toBe(id);
    expect(m.store.view((tx) => tx.nodes.count())).toBe(1);
  });

  it('asks for the id it was given before', async () => {
    const m = await manager({ active: true });
    const first = session([m.address]);
    first.session.start();
    await waitFor('the first session', () => first.events.onlines === 1);
    const id = first.session.nodeId;
    first.session.stop();
    const second = session([m.address], id);
    second.session.start();
    await waitFor('the second session', () => second.events.onlines === 1);
    expect(second.session.nodeId).toBe(id);
    expect(m.store.view((tx) => tx.nodes.count())).toBe(1);
  });

  it('stops for good when the node was removed from the cluster', async () => {
    const m = await manager({ active: true });
    const { session: s, events } = session([m.address]);
    s.start();
    await waitFor('the session', () => events.onlines === 1);
    await m.store.update((tx) => tx.nodes.delete(tx.nodes.get(s.nodeId)!));
    await waitFor('the removal', () => events.removedWith !== undefined);
    expect(events.removedWith).toMatch(/was removed/);
    expect(s.connectedTo).toBeUndefined();
  });

  it('is refused as a removed node when it asks for an id the cluster does not know', async () => {
    const m = await manager({ active: true });
    const { session: s, events } = session([m.address], 'unknownnode');
    s.start();
    await waitFor('the refusal', () => events.removedWith !== undefined);
    expect(events.removedWith).toMatch(/not part of the cluster/);
    expect(events.onlines).toBe(0);
  });
});
