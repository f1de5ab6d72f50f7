import { describe, expect, it } from 'vitest';
import { TaskState, type Task } from '../../proto/gen/objects.js';
import { TaskIndexes } from './indexes.js';
import { makeTask } from './testing/index.js';

function ids(tasks: Iterable<Task>): string[] {
  return [...tasks].map((t) => t.meta!.id);
}

describe('TaskIndexes.replace', () => {
  it('moves a task between nodes and out of the pending set, in place where its keys stay', () => {
    const indexes = new TaskIndexes();
    const [a, b, c] = [1, 2, 3].map((slot) => makeTask({ id: `t${slot}`, serviceId: 's', slot }));
    for (const t of [a, b, c]) indexes.add(t!);

    const placed = { ...a!, nodeId: 'n1', status: { ...a!.status!, state: TaskState.TASK_STATE_ASSIGNED } };
    indexes.replace(a!, placed);
    expect(ids(indexes.byService.values('s'))).toEqual(['t1', 't2', 't3']);
    expect([...indexes.byService.values('s')][0]).toBe(placed);
    expect([...indexes.bySlot.values('s', 1)]).toEqual([placed]);
    expect(ids(indexes.byNode.values('n1'))).toEqual(['t1']);
    expect(ids(indexes.pending.values())).toEqual(['t2', 't3']);

    const moved = { ...placed, nodeId: 'n2' };
    indexes.replace(placed, moved);
    expect(indexes.byNode.size('n1')).toBe(0);
    expect([...indexes.byNode.values('n2')]).toEqual([moved]);

    const requeued = { ...moved, nodeId: '', status: { ...moved.status!, state: TaskState.TASK_STATE_PENDING } };
    indexes.replace(moved, requeued);
    expect(indexes.byNode.size('n2')).toBe(0);
    expect(ids(indexes.pending.values())).toEqual(['t2', 't3', 't1']);
  });

  it('keeps a slot’s other generations, and moves a task whose slot changed', () => {
    const indexes = new TaskIndexes();
    const old = makeTask({ id: 'old', serviceId: 's', slot: 1, state: TaskState.TASK_STATE_FAILED });
    const current = makeTask({ id: 'new', serviceId: 's', slot: 1 });
    indexes.add(old);
    indexes.add(current);
    const running = { ...current, status: { ...current.status!, state: TaskState.TASK_STATE_RUNNING } };
    indexes.replace(current, running);
    expect([...indexes.bySlot.values('s', 1)]).toEqual([old, running]);

    const reslotted = { ...running, slot: 2 };
    indexes.replace(running, reslotted);
    expect([...indexes.bySlot.values('s', 1)]).toEqual([old]);
    expect([...indexes.bySlot.values('s', 2)]).toEqual([reslotted]);

    indexes.remove(old);
    indexes.remove(reslotted);
    expect([...indexes.bySlot.values('s', 1)]).toEqual([]);
    expect([...indexes.bySlot.values('s', 2)]).toEqual([]);
    expect(indexes.byService.size('s')).toBe(0);
  });
});
