import { afterEach, describe, expect, it } from 'vitest';
import { NodeAvailability, NodeState, TaskState, type Task } from '../../../proto/gen/objects.js';
import { NotLeaderError } from '../../store/types.js';
import { Harness } from './testing/harness.js';

const slotsOf = (tasks: Task[]): number[] => tasks.map((t) => t.slot).sort((a, b) => a - b);

describe('ReplicatedOrchestrator', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('creates one task per slot, and they run', async () => {
    h = new Harness().start();
    await h.addNode('a');
    await h.addNode('b');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 3 } } });
    await h.waitFor(() => h.running(svc).length === 3, 'three running tasks');
    await h.settle();
    const tasks = h.runnable(svc);
    expect(slotsOf(tasks)).toEqual([1, 2, 3]);
    expect(tasks.every((t) => t.specVersion === 1 && t.serviceAnnotations?.name === 'web')).toBe(true);
    expect(h.tasks(svc)).toHaveLength(3);
  });

  it('scales up into the lowest free slots', async () => {
    h = new Harness().start();
    await h.addNode('a');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 2 } } });
    await h.waitFor(() => h.running(svc).length === 2, 'two running');
    await h.scale(svc, 5);
    await h.waitFor(() => h.running(svc).length === 5, 'five running');
    await h.settle();
    expect(slotsOf(h.runnable(svc))).toEqual([1, 2, 3, 4, 5]);
  });

  it('scales down on the busiest nodes first, removing tasks that are not running before running ones', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const b = await h.addNode('b');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 4 } } });
    await h.waitFor(() => h.running(svc).length === 4, 'four running');
    // Two more land on a third node that is then silenced: they stay ASSIGNED, never running.
    const c = await h.addNode('c');
    h.driver.silence(c);
    await h.setAvailability(a, NodeAvailability.NODE_AVAILABILITY_PAUSE);
    await h.setAvailability(b, NodeAvailability.NODE_AVAILABILITY_PAUSE);
    await h.scale(svc, 6);
    await h.settle();
    expect(h.runnable(svc).filter((t) => t.nodeId === c && t.status?.state === TaskState.TASK_STATE_ASSIGNED)).toHaveLength(2);
    // a: 2, b: 2, c: 2 not running. Down to 3: c's two go first, then one from a or b.
    await h.scale(svc, 3);
    await h.settle();
    const left = h.runnable(svc);
    expect(left).toHaveLength(3);
    expect(left.filter((t) => t.nodeId === c)).toHaveLength(0);
    const perNode = [a, b].map((n) => left.filter((t) => t.nodeId === n).length).sort();
    expect(perNode).toEqual([1, 2]);
  });

  it('evens out nodes when scaling down', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 4 } } });
    await h.waitFor(() => h.running(svc).length === 4, 'four running on a');
    const b = await h.addNode('b');
    await h.scale(svc, 6);
    await h.waitFor(() => h.running(svc).length === 6, 'six running');
    expect(h.runnable(svc).filter((t) => t.nodeId === b)).toHaveLength(2);
    await h.scale(svc, 4);
    await h.settle();
    const left = h.runnable(svc);
    expect(left.filter((t) => t.nodeId === a)).toHaveLength(2);
    expect(left.filter((t) => t.nodeId === b)).toHaveLength(2);
  });

  it('replaces the tasks of a node that goes down on other nodes', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const b = await h.addNode('b');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 4 } } });
    await h.waitFor(() => h.running(svc).length === 4, 'four running');
    const onA = h.runnable(svc).filter((t) => t.nodeId === a);
    expect(onA.length).toBe(2);
    h.driver.silence(a);
    await h.setNodeState(a, NodeState.NODE_STATE_DOWN);
    await h.waitFor(() => h.running(svc).length === 4 && h.runnable(svc).every((t) => t.nodeId === b), 'all four on b');
    await h.settle();
    expect(slotsOf(h.runnable(svc))).toEqual([1, 2, 3, 4]);
    // The old tasks are shut down (their node never reports again) and kept as history.
    for (const old of onA) {
      const now = h.tasks(svc).find((t) => t.meta?.id === old.meta?.id);
      expect(now?.desiredState).toBe(TaskState.TASK_STATE_SHUTDOWN);
    }
  });

  it('moves tasks off a drained node; the drained tasks report shut down', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const b = await h.addNode('b');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 4 } } });
    await h.waitFor(() => h.running(svc).length === 4, 'four running');
    await h.setAvailability(a, NodeAvailability.NODE_AVAILABILITY_DRAIN);
    await h.waitFor(() => h.running(svc).length === 4 && h.runnable(svc).every((t) => t.nodeId === b), 'all four on b');
    await h.settle();
    const drained = h.tasks(svc).filter((t) => t.nodeId === a);
    expect(drained.length).toBe(2);
    expect(drained.every((t) => t.status?.state === TaskState.TASK_STATE_SHUTDOWN)).toBe(true);
    expect(slotsOf(h.runnable(svc))).toEqual([1, 2, 3, 4]);
  });

  it('shuts down every task of a deleted service', async () => {
    h = new Harness().start();
    await h.addNode('a');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 3 } } });
    await h.waitFor(() => h.running(svc).length === 3, 'three running');
    // The reaper would delete them once stopped; keep it out to see the shutdown itself.
    h.loops.reaper.stop();
    await h.removeService(svc);
    await h.settle();
    const tasks = h.tasks(svc);
    expect(tasks).toHaveLength(3);
    expect(tasks.every((t) => t.desiredState === TaskState.TASK_STATE_SHUTDOWN && t.status?.state === TaskState.TASK_STATE_SHUTDOWN)).toBe(
      true,
    );
  });

  it('a new leader fills slots and shuts down orphans left while no leader ran', async () => {
    h = new Harness();
    h.driver.start();
    await h.addNode('a');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 2 } } });
    await h.settle();
    expect(h.tasks(svc)).toHaveLength(0);
    h.loops.start();
    await h.waitFor(() => h.running(svc).length === 2, 'two running');
    h.loops.stop();
    await h.removeService(svc);
    h.failover();
    await h.waitFor(() => h.tasks(svc).length === 0, 'tasks gone (shut down, then reaped)');
  });

  it('stops quietly when leadership is lost, and a new leader picks up', async () => {
    h = new Harness();
    h.driver.start();
    await h.addNode('a');
    const svc = await h.createService('web', { mode: { $case: 'replicated', replicated: { replicas: 2 } } });
    h.proposer.refuse(new NotLeaderError('not the leader'));
    h.loops.start();
    await h.settle();
    expect(h.tasks(svc)).toHaveLength(0);
    h.proposer.accept();
    h.failover();
    await h.waitFor(() => h.running(svc).length === 2, 'two running under the new leader');
  });
});
