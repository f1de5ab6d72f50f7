import { describe, expect, it } from 'vitest';
import { TaskState } from '../../../proto/gen/objects.js';
import { makeTask } from '../../store/testing/index.js';
import { chooseSlotsToRemove } from './scale-down.js';
import type { Slot } from './slots.js';

function slot(n: number, nodeId: string, state = TaskState.TASK_STATE_RUNNING): Slot {
  const t = makeTask({ slot: n, nodeId, state });
  return { key: n, tasks: [t], runnable: [t] };
}

const keys = (slots: Slot[]): number[] => slots.map((s) => Number(s.key));

describe('chooseSlotsToRemove', () => {
  it('takes slots not running yet first, unplaced ones included', () => {
    const live = [slot(1, 'a'), slot(2, 'a'), slot(3, '', TaskState.TASK_STATE_PENDING), slot(4, 'b', TaskState.TASK_STATE_ASSIGNED)];
    expect(keys(chooseSlotsToRemove(live, 2, () => 0)).sort()).toEqual([3, 4]);
  });

  it('then the node with most tasks of the service, evening nodes out', () => {
    const live = [slot(1, 'a'), slot(2, 'a'), slot(3, 'a'), slot(4, 'b'), slot(5, 'c')];
    const onNode = (n: string): number => live.filter((s) => s.runnable[0]!.nodeId === n).length;
    // a has 3, then 2: both removals come from it, highest slot first.
    expect(keys(chooseSlotsToRemove(live, 2, onNode))).toEqual([3, 2]);
    // A third finds a, b and c even (one each) and breaks the tie by node id.
    expect(keys(chooseSlotsToRemove(live, 3, onNode))).toEqual([3, 2, 1]);
  });

  it('then the node with most runnable tasks overall', () => {
    const live = [slot(1, 'a'), slot(2, 'b')];
    expect(keys(chooseSlotsToRemove(live, 1, (n) => (n === 'b' ? 10 : 1)))).toEqual([2]);
  });
});
