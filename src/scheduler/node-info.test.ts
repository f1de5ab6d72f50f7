import { describe, expect, it } from 'vitest';
import { TaskState } from '../../proto/gen/objects.js';
import { buildNodeInfos, NodeInfo } from './node-info.js';
import { GiB, CPU, makeNode, makeTask, runningTask } from './testing/objects.js';

describe('NodeInfo', () => {
  it('subtracts the reservations of the tasks on the node from its resources', () => {
    const info = new NodeInfo(makeNode('n1', { nanoCpus: 4 * CPU, memoryBytes: 8 * GiB }), [
      runningTask('t1', 'n1', { memoryBytes: 2 * GiB, nanoCpus: CPU }),
      runningTask('t2', 'n1', { memoryBytes: 1 * GiB, state: TaskState.TASK_STATE_ASSIGNED }),
    ]);
    expect(info.available).toEqual({ nanoCpus: 3 * CPU, memoryBytes: 5 * GiB });
    expect(info.activeTasks).toBe(2);
    expect(info.activeTasksOfService('svc')).toBe(2);
    expect(info.activeTasksOfService('other')).toBe(0);
  });

  it('frees the reservation when the task finishes', () => {
    const info = new NodeInfo(makeNode('n1', { memoryBytes: 8 * GiB }), [runningTask('t1', 'n1', { memoryBytes: 2 * GiB })]);
    info.addTask(runningTask('t1', 'n1', { memoryBytes: 2 * GiB, state: TaskState.TASK_STATE_FAILED }));
    expect(info.available.memoryBytes).toBe(8 * GiB);
    expect(info.activeTasks).toBe(0);
    expect(info.hasTask('t1')).toBe(false);
  });

  it('keeps the reservation of a task told to shut down until it stops, but no longer counts it as active', () => {
    const info = new NodeInfo(makeNode('n1', { memoryBytes: 8 * GiB }));
    info.addTask(runningTask('t1', 'n1', { memoryBytes: 2 * GiB, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
    expect(info.available.memoryBytes).toBe(6 * GiB);
    expect(info.activeTasks).toBe(0);
    expect(info.activeTasksOfService('svc')).toBe(0);
  });

  it('does not count a task that names the node but is not assigned yet', () => {
    const info = new NodeInfo(makeNode('n1'), [makeTask('t1', { nodeId: 'n1', memoryBytes: GiB })]);
    expect(info.hasTask('t1')).toBe(false);
    expect(info.available.memoryBytes).toBe(8 * GiB);
  });

  it('counts a task once however many versions of it are recorded', () => {
    const info = new NodeInfo(makeNode('n1'));
    info.addTask(runningTask('t1', 'n1', { memoryBytes: GiB, state: TaskState.TASK_STATE_ASSIGNED }));
    info.addTask(runningTask('t1', 'n1', { memoryBytes: GiB, state: TaskState.TASK_STATE_RUNNING }));
    expect(info.activeTasks).toBe(1);
    expect(info.available.memoryBytes).toBe(7 * GiB);
  });

  it('removes a task only while the recorded version is the one given, when one is given', () => {
    const info = new NodeInfo(makeNode('n1'));
    const planned = runningTask('t1', 'n1', { state: TaskState.TASK_STATE_ASSIGNED });
    const newer = runningTask('t1', 'n1', { state: TaskState.TASK_STATE_RUNNING, version: 2 });
    info.addTask(planned);
    info.addTask(newer);
    expect(info.removeTask('t1', planned)).toBe(false);
    expect(info.hasTask('t1')).toBe(true);
    expect(info.removeTask('t1', newer)).toBe(true);
    expect(info.activeTasks).toBe(0);
  });

  it('buildNodeInfos places each occupying task on its node and ignores unknown nodes', () => {
    const infos = buildNodeInfos(
      [makeNode('n1'), makeNode('n2')],
      [runningTask('t1', 'n1'), runningTask('t2', 'n1', { serviceId: 'other' }), runningTask('t3', 'gone'), makeTask('t4')],
    );
    expect([...infos.keys()]).toEqual(['n1', 'n2']);
    expect(infos.get('n1')!.activeTasks).toBe(2);
    expect(infos.get('n2')!.activeTasks).toBe(0);
  });
});
