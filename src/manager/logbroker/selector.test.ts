import { describe, expect, it } from 'vitest';
import { TaskState, type Task } from '../../../proto/gen/objects.js';
import { makeTask } from '../../store/testing/fixtures.js';
import { nodeHasTask } from './selector.js';

const on = (state: TaskState, desired = TaskState.TASK_STATE_RUNNING): Task => ({ ...makeTask({ nodeId: 'n1', state }), desiredState: desired });

describe('nodeHasTask', () => {
  it('asks a node only for tasks it holds with their logs', () => {
    expect(nodeHasTask(on(TaskState.TASK_STATE_ASSIGNED))).toBe(false);
    expect(nodeHasTask(on(TaskState.TASK_STATE_RUNNING))).toBe(true);
    // Stopping: still on the node, log included.
    expect(nodeHasTask(on(TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_SHUTDOWN))).toBe(true);
    // Finished and no longer wanted: out of the node's set, removed with its log.
    expect(nodeHasTask(on(TaskState.TASK_STATE_SHUTDOWN, TaskState.TASK_STATE_SHUTDOWN))).toBe(false);
  });
});
