import { describe, expect, it } from 'vitest';
import { Task, TaskState } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';
import { AssignmentTracker } from './assignment-tracker.js';

/** A fake read transaction over a map of tasks that counts the reads the tracker makes. */
class CountingTasks {
  readonly tasks = new Map<string, Task>();
  /** Task ids by node, as the store's index keeps them. */
  private readonly index = new Map<string, Set<string>>();
  gets = 0;
  byNodeCalls = 0;

  tx(): ReadTx {
    const tasks = {
      get: (id: string) => {
        this.gets++;
        return this.tasks.get(id);
      },
      byNode: (nodeId: string) => {
        this.byNodeCalls++;
        return [...(this.index.get(nodeId) ?? [])].map((id) => this.tasks.get(id)!).filter((t) => t.nodeId === nodeId);
      },
    };
    return { tasks } as unknown as ReadTx;
  }

  put(id: string, nodeId: string, desiredState = TaskState.TASK_STATE_RUNNING, state = TaskState.TASK_STATE_ASSIGNED): void {
    this.tasks.set(id, Task.fromPartial({ meta: { id }, nodeId, desiredState, status: { state } }));
    if (!this.index.has(nodeId)) this.index.set(nodeId, new Set());
    this.index.get(nodeId)!.add(id);
  }
}

describe('AssignmentTracker', () => {
  it('answers the full set once, then only touched tasks whose place or desired state changed', () => {
    const store = new CountingTasks();
    store.put('a', 'n1');
    store.put('b', 'n1');
    const tracker = new AssignmentTracker();
    expect(tracker.next(store.tx(), 'n1')).toMatchObject({ full: true, removed: [] });

    store.put('a', 'n1', TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_RUNNING);
    tracker.touch('a');
    expect(tracker.next(store.tx(), 'n1')).toBeUndefined();

    store.put('a', 'n1', TaskState.TASK_STATE_SHUTDOWN, TaskState.TASK_STATE_RUNNING);
    store.put('b', 'n2');
    store.put('c', 'n1');
    for (const id of ['a', 'b', 'c']) tracker.touch(id);
    const changes = tracker.next(store.tx(), 'n1');
    expect(changes?.full).toBe(false);
    expect(changes?.updated.map((t) => [t.meta?.id, t.desiredState])).toEqual([
      ['a', TaskState.TASK_STATE_SHUTDOWN],
      ['c', TaskState.TASK_STATE_RUNNING],
    ]);
    expect(changes?.removed).toEqual(['b']);

    tracker.startOver();
    expect(tracker.next(store.tx(), 'n1')?.full).toBe(true);
  });

  it('at 1,000 nodes x 100 tasks, a change costs a read of the changed task, not of the node’s set', () => {
    const store = new CountingTasks();
    const nodes = Array.from({ length: 1000 }, (_, i) => `n${i}`);
    for (const node of nodes) for (let t = 0; t < 100; t++) store.put(`${node}-t${t}`, node);
    const trackers = new Map(nodes.map((n) => [n, new AssignmentTracker()]));
    for (const [node, tracker] of trackers) expect(tracker.next(store.tx(), node)?.updated).toHaveLength(100);
    expect(store.byNodeCalls).toBe(1000);
    store.byNodeCalls = 0;

    // One task per node gets a new desired state; another node's task is touched but unchanged.
    for (const node of nodes) {
      store.put(`${node}-t7`, node, TaskState.TASK_STATE_SHUTDOWN);
      trackers.get(node)!.touch(`${node}-t7`);
      trackers.get(node)!.touch(`${node}-t8`);
    }
    let sentTasks = 0;
    for (const [node, tracker] of trackers) sentTasks += tracker.next(store.tx(), node)?.updated.length ?? 0;
    expect(sentTasks).toBe(1000);
    expect(store.gets).toBe(2000);
    expect(store.byNodeCalls).toBe(0);
  });
});
