import { describe, expect, it } from 'vitest';
import { TaskState } from '../../proto/gen/objects.js';
import { tasksTable } from './listings.js';
import { globalService, node, replicatedService, task } from './testing/objects.js';

const NOW = 1_700_000_000_000;
const nodes = [node('node1aaaaaaaaaaaaaaaaaaaa', 'w1'), node('node2bbbbbbbbbbbbbbbbbbbb', 'w2')];

describe('tasksTable', () => {
  it('prints docker service ps columns: hostname, desired state, current state with its age, quoted error, PORTS', () => {
    const web = replicatedService(1);
    const running = task(web, { slot: 1, nodeId: 'node1aaaaaaaaaaaaaaaaaaaa', timestamp: NOW - 5 * 60_000, createdAt: 10 });
    const failed = task(web, {
      slot: 1,
      nodeId: 'node2bbbbbbbbbbbbbbbbbbbb',
      state: TaskState.TASK_STATE_FAILED,
      desired: TaskState.TASK_STATE_SHUTDOWN,
      err: 'task failed: exit code 137 (out of memory)',
      timestamp: NOW - 2000,
      createdAt: 5,
    });
    const lines = tasksTable([failed, running], nodes, NOW, false).split('\n');
    expect(lines[0]).toBe('ID             NAME        IMAGE     NODE   DESIRED STATE   CURRENT STATE           ERROR                              PORTS');
    expect(lines[1]).toBe(`${running.meta!.id.slice(0, 12)}   web.1       nginx:1   w1     Running         Running 5 minutes ago`);
    // The older generation of the slot comes second, indented, with its error cut to 30 characters.
    expect(lines[2]).toBe(`${failed.meta!.id.slice(0, 12)}    \\_ web.1   nginx:1   w2     Shutdown        Failed 2 seconds ago    "task failed: exit code 137 (o…"`);
    expect(lines[3]).toBe('');
  });

  it('shows whole ids and errors with noTrunc', () => {
    const web = replicatedService(1);
    const failed = task(web, { slot: 1, state: TaskState.TASK_STATE_FAILED, err: 'image not found: registry.example/none:1', timestamp: NOW - 3000 });
    const text = tasksTable([failed], nodes, NOW, true);
    expect(text).toContain(failed.meta!.id);
    expect(text).toContain('"image not found: registry.example/none:1"');
  });

  it('names global tasks by node and shows a node that is gone by its short id', () => {
    const agent = globalService();
    const onGone = task(agent, { nodeId: 'gonenode0000000000000000x', state: TaskState.TASK_STATE_PREPARING, timestamp: NOW - 3000 });
    const lines = tasksTable([onGone], nodes, NOW, false).split('\n');
    expect(lines[1]).toBe(`${onGone.meta!.id.slice(0, 12)}   web.gonenode0000000000000000x   agent:1   gonenode0000   Running         Preparing 3 seconds ago`);
  });

  it('shows why a task cannot be placed, with no node', () => {
    const web = replicatedService(1);
    const pending = task(web, { slot: 1, nodeId: '', state: TaskState.TASK_STATE_PENDING, message: 'no suitable node (1 node not available)', timestamp: NOW - 1000 });
    const lines = tasksTable([pending], nodes, NOW, false).split('\n');
    expect(lines[1]).toBe(`${pending.meta!.id.slice(0, 12)}   web.1   nginx:1          Running         Pending 1 second ago   "no suitable node (1 node not …"`);
  });
});
