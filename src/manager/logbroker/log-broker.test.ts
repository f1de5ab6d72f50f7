/**
 * The log broker over a real in-memory store, with FAKE node sessions (a map of what was pushed to
 * each node) and a recording subscriber: fan-out to the nodes holding the tasks, relaying, the end
 * of a subscription that does not follow, warnings for nodes that cannot answer, new tasks taken up
 * when following, and cancellation reaching the nodes.
 */
import { describe, expect, it } from 'vitest';
import type { SubscribeLogsMessage } from '../../../proto/gen/control.js';
import type { LogSubscription } from '../../../proto/gen/dispatcher.js';
import { LogStream } from '../../../proto/gen/logs.js';
import { Node, NodeState, Service, Task, TaskState } from '../../../proto/gen/objects.js';
import { silentLogger } from '../../common/logger.js';
import { createTestStore } from '../../store/testing/test-store.js';
import { LogBroker, type LogSubscriber } from './log-broker.js';

class FakeSessions {
  readonly pushed = new Map<string, LogSubscription[]>();
  readonly connected = new Set<string>();
  pushLogSubscription(nodeId: string, subscription: LogSubscription): boolean {
    if (!this.connected.has(nodeId)) return false;
    this.pushed.set(nodeId, [...(this.pushed.get(nodeId) ?? []), subscription]);
    return true;
  }
}

class RecordingSubscriber implements LogSubscriber {
  readonly lines: string[] = [];
  readonly warnings: string[] = [];
  ended = false;
  failed: string | undefined;
  write(message: SubscribeLogsMessage): boolean {
    this.lines.push(...message.messages.map((m) => `${m.nodeId}/${m.taskId}:${m.data.toString()}`));
    this.warnings.push(...message.warnings);
    return true;
  }
  onDrain(): void {}
  end(): void {
    this.ended = true;
  }
  fail(status: { details?: string }): void {
    this.failed = status.details;
  }
}

async function setup() {
  const { store } = createTestStore();
  await store.update((tx) => {
    tx.services.create(Service.fromPartial({ meta: { id: 'svc' }, spec: { annotations: { name: 'web' } } }));
    for (const [id, state] of [['n1', NodeState.NODE_STATE_READY], ['n2', NodeState.NODE_STATE_READY], ['n3', NodeState.NODE_STATE_DOWN]] as const) {
      tx.nodes.create(Node.fromPartial({ meta: { id }, description: { hostname: `host-${id}` }, status: { state } }));
    }
    for (const [id, nodeId] of [['t1', 'n1'], ['t2', 'n2'], ['t3', 'n3']]) {
      tx.tasks.create(Task.fromPartial({ meta: { id }, serviceId: 'svc', slot: Number(id.slice(1)), nodeId, status: { state: TaskState.TASK_STATE_RUNNING } }));
    }
  });
  const sessions = new FakeSessions();
  sessions.connected.add('n1').add('n2');
  const broker = new LogBroker({ store, logger: silentLogger });
  broker.attach(sessions);
  broker.start();
  return { store, sessions, broker };
}

const line = (taskId: string, text: string) => ({ taskId, serviceId: 'svc', nodeId: 'forged', slot: 1, time: 't', stream: LogStream.LOG_STREAM_STDOUT, data: Buffer.from(text) });
const publication = (sessions: FakeSessions, nodeId: string) => sessions.pushed.get(nodeId)!.at(-1)!.id;

describe('LogBroker', () => {
  it('asks each node for its tasks, relays their lines, warns of a down node and ends when every node closed', async () => {
    const { sessions, broker } = await setup();
    const subscriber = new RecordingSubscriber();
    broker.subscribe({ selector: { serviceIds: ['web'], taskIds: [] }, options: { follow: false, tail: 10, since: '' } }, subscriber);
    expect(sessions.pushed.get('n1')).toEqual([{ id: expect.any(String), taskIds: ['t1'], options: { follow: false, tail: 10, since: '' }, cancelled: false }]);
    expect(sessions.pushed.get('n2')?.[0]?.taskIds).toEqual(['t2']);
    expect(subscriber.warnings).toEqual(['error from node host-n3: node is down']);

    const resume = () => undefined;
    // A node answers only for what it was asked: t2's line from n1 is dropped; the node id is the caller's.
    broker.publish('n1', { sessionId: 's', subscriptionId: publication(sessions, 'n1'), messages: [line('t1', 'a'), line('t2', 'x')], close: true, error: '' }, resume);
    expect(subscriber.ended).toBe(false);
    broker.publish('n2', { sessionId: 's', subscriptionId: publication(sessions, 'n2'), messages: [line('t2', 'b')], close: false, error: 'disk on fire' }, resume);
    broker.publicationEnded('n2', [publication(sessions, 'n2')]);
    expect(subscriber.lines).toEqual(['n1/t1:a', 'n2/t2:b']);
    expect(subscriber.warnings).toContain('error from node host-n2: disk on fire');
    expect(subscriber.warnings).toContain('error from node host-n2: the node stopped sending logs');
    expect(subscriber.ended).toBe(true);
  });

  it('does not wait for a node that goes down or is not connected', async () => {
    const { store, sessions, broker } = await setup();
    sessions.connected.delete('n2');
    const subscriber = new RecordingSubscriber();
    broker.subscribe({ selector: { serviceIds: ['svc'], taskIds: [] }, options: { follow: false, tail: -1, since: '' } }, subscriber);
    expect(subscriber.warnings).toContain('error from node host-n2: node is not connected');
    await store.update((tx) => tx.nodes.update({ ...tx.nodes.get('n1')!, status: { state: NodeState.NODE_STATE_DOWN, message: '', addr: '' } }));
    expect(subscriber.warnings).toContain('error from node host-n1: node is down');
    expect(subscriber.ended).toBe(true);
  });

  it('following, takes up a new task of the service, and cancels every publication when the subscriber goes', async () => {
    const { store, sessions, broker } = await setup();
    const subscriber = new RecordingSubscriber();
    const unsubscribe = broker.subscribe({ selector: { serviceIds: ['svc'], taskIds: [] }, options: { follow: true, tail: 0, since: '' } }, subscriber);
    await store.update((tx) => tx.tasks.create(Task.fromPartial({ meta: { id: 't4' }, serviceId: 'svc', slot: 4, nodeId: 'n2', status: { state: TaskState.TASK_STATE_ASSIGNED } })));
    expect(sessions.pushed.get('n2')).toHaveLength(1);
    await store.update((tx) => tx.tasks.update({ ...tx.tasks.get('t4')!, status: { ...tx.tasks.get('t4')!.status!, state: TaskState.TASK_STATE_RUNNING } }));
    const added = sessions.pushed.get('n2')![1]!;
    expect(added).toMatchObject({ taskIds: ['t4'], options: { follow: true, tail: -1 }, cancelled: false });
    broker.publish('n2', { sessionId: 's', subscriptionId: added.id, messages: [line('t4', 'new')], close: false, error: '' }, () => undefined);
    expect(subscriber.lines).toEqual(['n2/t4:new']);

    unsubscribe();
    expect(sessions.pushed.get('n1')!.at(-1)).toMatchObject({ cancelled: true });
    expect(sessions.pushed.get('n2')!.filter((s) => s.cancelled).map((s) => s.id).sort()).toEqual(sessions.pushed.get('n2')!.filter((s) => !s.cancelled).map((s) => s.id).sort());
  });

  it('refuses an unknown service, and tells subscribers to retry when leadership ends', async () => {
    const { broker } = await setup();
    expect(() => broker.subscribe({ selector: { serviceIds: ['nope'], taskIds: [] }, options: undefined }, new RecordingSubscriber())).toThrow('service nope not found');
    const subscriber = new RecordingSubscriber();
    broker.subscribe({ selector: { serviceIds: [], taskIds: ['t1'] }, options: { follow: true, tail: -1, since: '' } }, subscriber);
    broker.stop();
    expect(subscriber.failed).toMatch(/run the command again/);
  });
});
