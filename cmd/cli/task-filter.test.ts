import { describe, expect, it } from 'vitest';
import { TaskState } from '../../proto/gen/objects.js';
import { UsageError } from './errors.js';
import { parseTaskFilters } from './task-filter.js';
import { replicatedService, task } from './testing/objects.js';

describe('parseTaskFilters', () => {
  it('sends desired-state, node and service to the manager', () => {
    const filters = parseTaskFilters(['desired-state=running', 'desired-state=Shutdown', 'node=w1', 'service=web'], ['desired-state', 'node', 'service']);
    expect(filters.request).toEqual({
      desiredStates: [TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_SHUTDOWN],
      nodeIds: ['w1'],
      serviceIds: ['web'],
    });
  });

  it('keeps tasks whose id or name starts with one of the values, and both when both are given', () => {
    const web = replicatedService(2);
    const one = task(web, { slot: 1 });
    const two = task(web, { slot: 2 });
    const byName = parseTaskFilters(['name=web.2'], ['name', 'id']);
    expect([one, two].filter(byName.matches)).toEqual([two]);
    const byId = parseTaskFilters([`id=${one.meta!.id.slice(0, 20)}`, `id=${two.meta!.id}`], ['name', 'id']);
    expect([one, two].filter(byId.matches)).toEqual([one, two]);
    const both = parseTaskFilters([`id=${one.meta!.id}`, 'name=web.2'], ['name', 'id']);
    expect([one, two].filter(both.matches)).toEqual([]);
  });

  it('refuses a key the listing does not take, a missing value and an unknown state', () => {
    expect(() => parseTaskFilters(['node=w1'], ['desired-state', 'id', 'name'])).toThrow(
      new UsageError('invalid filter "node=w1": the filters are desired-state, id, name'),
    );
    expect(() => parseTaskFilters(['name'], ['name'])).toThrow('invalid filter "name": use KEY=VALUE');
    expect(() => parseTaskFilters(['desired-state=sleeping'], ['desired-state'])).toThrow(/sleeping is not a task state/);
  });
});
