import { describe, expect, it } from 'vitest';
import { HealthState, TaskState } from '../../proto/gen/objects.js';
import { prettyTask } from './pretty.js';
import { replicatedService, task } from './testing/objects.js';

const NOW = Date.UTC(2024, 4, 1, 10, 0, 0);

describe('prettyTask', () => {
  it('shows where the task runs, its states with their time, and what the worker reported', () => {
    const t = task(replicatedService(3), {
      slot: 2,
      nodeId: 'node1aaaaaaaaaaaaaaaaaaaa',
      state: TaskState.TASK_STATE_FAILED,
      desired: TaskState.TASK_STATE_SHUTDOWN,
      err: 'task failed: exit code 137 (out of memory)',
      message: 'started',
      timestamp: NOW - 2000,
      createdAt: NOW - 90_000,
    });
    t.status = { ...t.status!, exitCode: 137, containerId: 'c0ffee', pid: 4242, health: HealthState.HEALTH_STATE_UNHEALTHY };
    const text = prettyTask(t, 'w1', NOW);
    expect(text.split('\n')).toEqual([
      `ID:                 ${t.meta!.id}`,
      'Name:               web.2',
      'Service:            web (svc1)',
      'Slot:               2',
      'Node:               w1 (node1aaaaaaaaaaaaaaaaaaaa)',
      'Desired State:      Shutdown',
      'Status:',
      ' State:             Failed',
      ' Since:             2024-05-01T09:59:58.000Z (2 seconds ago)',
      ' Message:           started',
      ' Error:             task failed: exit code 137 (out of memory)',
      ' Exit Code:         137',
      ' Container ID:      c0ffee',
      ' PID:               4242',
      ' Health:            unhealthy',
      'ContainerSpec:',
      ' Image:             nginx:1',
      'Spec Version:       1',
      'Created:            2024-05-01T09:58:30.000Z (About a minute ago)',
      '',
    ]);
  });

  it('leaves out what a task that is not placed yet does not have', () => {
    const t = task(replicatedService(1), { slot: 1, nodeId: '', state: TaskState.TASK_STATE_PENDING });
    const text = prettyTask(t, '', NOW);
    expect(text).toContain('Node:               not assigned\n');
    expect(text).not.toMatch(/Exit Code|Container ID|PID|Health|Since/);
  });
});
