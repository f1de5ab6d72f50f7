import { describe, expect, it } from 'vitest';
import { TaskSpec, TaskState, UpdateState, type Service, type Task } from '../../proto/gen/objects.js';
import { watchService, type WatchApi } from './converge.js';
import type { Io } from './io.js';
import { node, replicatedService, task, withStatus } from './testing/objects.js';

const { TASK_STATE_PENDING: PENDING } = TaskState;

/** A manager that answers each poll with the next scripted reading (the last one repeats). */
function scripted(readings: { service: Service; tasks: Task[] }[]): WatchApi & { polls: number } {
  const api = {
    polls: 0,
    async getService() {
      return readings[Math.min(api.polls++, readings.length - 1)]!.service;
    },
    async listTasks() {
      return readings[Math.min(api.polls - 1, readings.length - 1)]!.tasks;
    },
    async listNodes() {
      return { nodes: [node('node1', 'host1')], managers: [] };
    },
  };
  return api;
}

/** Time moves only when the watch sleeps; output is collected. */
function fakeIo(): Io & { text: string } {
  let now = 1_000_000;
  const io = {
    text: '',
    out: { write: (t: string) => void (io.text += t), isTTY: false },
    err: { write: () => undefined, isTTY: false },
    env: {},
    now: () => now,
    sleep: async (ms: number) => void (now += ms),
    interrupted: () => new Promise<void>(() => undefined),
  };
  return io;
}

const watch = (api: WatchApi, io: Io, options: Partial<Parameters<typeof watchService>[3]> = {}) =>
  watchService(api, 'svc1', io, { expectRollback: false, statusBefore: undefined, pollMs: 1000, ...options });

describe('watchService', () => {
  it('follows a new service until its tasks run, then verifies them for the monitor period', async () => {
    const svc = replicatedService(2);
    const api = scripted([
      { service: svc, tasks: [task(svc, { slot: 1, state: PENDING })] },
      { service: svc, tasks: [task(svc, { slot: 1 }), task(svc, { slot: 2 })] },
    ]);
    const io = fakeIo();
    await watch(api, io);
    expect(io.text.split('\n')).toEqual([
      'overall progress: 0 out of 2 tasks',
      expect.stringMatching(/^1\/2: pending +\[=/),
      'overall progress: 2 out of 2 tasks',
      expect.stringMatching(/^1\/2: running +\[=+>\]$/),
      expect.stringMatching(/^2\/2: running +\[=+>\]$/),
      'verify: Waiting 5 seconds to verify that tasks are stable...',
      'verify: Waiting 4 seconds to verify that tasks are stable...',
      'verify: Waiting 3 seconds to verify that tasks are stable...',
      'verify: Waiting 2 seconds to verify that tasks are stable...',
      'verify: Waiting 1 seconds to verify that tasks are stable...',
      'verify: Service converged',
      '',
    ]);
  });

  it('needs no verification of its own when the manager reports the update complete', async () => {
    const svc = replicatedService(1);
    const api = scripted([
      { service: withStatus(svc, UpdateState.UPDATE_STATE_UPDATING), tasks: [task(svc, { slot: 1, state: PENDING })] },
      { service: withStatus(svc, UpdateState.UPDATE_STATE_COMPLETED, 'update completed'), tasks: [task(svc, { slot: 1 })] },
    ]);
    const io = fakeIo();
    await watch(api, io);
    expect(io.text).not.toContain('Waiting');
    expect(io.text).toMatch(/verify: Service converged\n$/);
    expect(api.polls).toBe(2);
  });

  it('waits while an update still has old tasks to replace, even if every new one runs', async () => {
    const svc = replicatedService(1, 'nginx:2');
    const old = TaskSpec.fromPartial({ container: { image: 'nginx:1' } });
    const updating = withStatus(svc, UpdateState.UPDATE_STATE_UPDATING);
    const api = scripted([
      { service: updating, tasks: [task(svc, { slot: 1 }), task(svc, { slot: 2, spec: old })] },
      { service: withStatus(svc, UpdateState.UPDATE_STATE_COMPLETED), tasks: [task(svc, { slot: 1 })] },
    ]);
    const io = fakeIo();
    await watch(api, io);
    expect(io.text).not.toContain('Waiting');
    expect(api.polls).toBe(2);
  });

  it('reports a paused update with the manager message', async () => {
    const svc = replicatedService(1);
    const paused = withStatus(svc, UpdateState.UPDATE_STATE_PAUSED, 'update paused due to failure or early termination of task abc');
    const api = scripted([{ service: paused, tasks: [task(svc, { slot: 1, state: TaskState.TASK_STATE_FAILED, err: 'exit 1' })] }]);
    await expect(watch(api, fakeIo(), { statusBefore: undefined })).rejects.toThrow(
      'service update paused: update paused due to failure or early termination of task abc',
    );
  });

  it('follows an automatic rollback to its end and then fails with its message', async () => {
    const svc = replicatedService(1);
    const api = scripted([
      { service: withStatus(svc, UpdateState.UPDATE_STATE_ROLLBACK_STARTED, 'update rolled back due to failure'), tasks: [task(svc, { slot: 1, state: PENDING })] },
      { service: withStatus(svc, UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, 'rollback completed'), tasks: [task(svc, { slot: 1 })] },
    ]);
    const io = fakeIo();
    await expect(watch(api, io)).rejects.toThrow('service rolled back: update rolled back due to failure');
    expect(io.text).toContain('rollback: update rolled back due to failure\n');
    expect(io.text).toContain('overall progress: rolling back update: 0 out of 1 tasks\n');
    expect(io.text).toContain('rollback: rollback completed\n');
  });

  it('treats a completed rollback as success when it was asked for', async () => {
    const svc = replicatedService(1);
    const api = scripted([{ service: withStatus(svc, UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, 'rollback completed'), tasks: [task(svc, { slot: 1 })] }]);
    await watch(api, fakeIo(), { expectRollback: true });
  });

  it('ignores a finished status left from an earlier update', async () => {
    const svc = withStatus(replicatedService(1), UpdateState.UPDATE_STATE_PAUSED, 'old failure');
    const api = scripted([{ service: svc, tasks: [task(svc, { slot: 1 })] }]);
    const io = fakeIo();
    await watch(api, io, { statusBefore: svc.updateStatus });
    expect(io.text).toMatch(/verify: Service converged\n$/);
  });

  it('starts verifying again when a task fails during verification', async () => {
    const svc = replicatedService(1);
    const api = scripted([
      { service: svc, tasks: [task(svc, { slot: 1 })] },
      { service: svc, tasks: [task(svc, { slot: 1, state: PENDING })] },
      { service: svc, tasks: [task(svc, { slot: 1 })] },
    ]);
    const io = fakeIo();
    await watch(api, io);
    expect(io.text).toContain('verify: Detected task failure\n');
    expect(io.text).toMatch(/verify: Service converged\n$/);
  });

  it('stops watching on interrupt and says the work goes on', async () => {
    const svc = replicatedService(1);
    const api = scripted([{ service: svc, tasks: [task(svc, { slot: 1, state: PENDING })] }]);
    const io = { ...fakeIo(), interrupted: () => Promise.resolve() };
    let text = '';
    io.out = { write: (t: string) => void (text += t), isTTY: false };
    await watch(api, io);
    expect(text).toContain('Operation continuing in background.\nUse `shoal service ps svc1` to check progress.\n');
  });
});
