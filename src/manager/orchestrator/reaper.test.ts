import { afterEach, describe, expect, it } from 'vitest';
import { NodeAvailability, TaskSpec, TaskState, type RestartPolicy, type ServiceSpec } from '../../../proto/gen/objects.js';
import { Harness } from './testing/harness.js';

function spec(replicas: number, restart: Partial<RestartPolicy> = {}): Partial<ServiceSpec> {
  return {
    task: TaskSpec.fromPartial({ container: { image: 'app:1' }, restart: { delayMs: 0, ...restart } }),
    mode: { $case: 'replicated', replicated: { replicas } },
  };
}

describe('TaskReaper', () => {
  let h: Harness;
  afterEach(() => h.stop());

  async function failRepeatedly(svc: string, times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      await h.waitFor(() => h.running(svc).length === 1, 'a running task');
      await h.driver.fail(h.running(svc)[0]!.meta!.id);
      await h.settle();
    }
  }

  it('keeps the retention limit of finished tasks per slot', async () => {
    h = new Harness({ retention: 2 }).start();
    await h.addNode('a');
    const svc = await h.createService('web', spec(1));
    await failRepeatedly(svc, 5);
    await h.waitFor(() => h.running(svc).length === 1, 'running again');
    await h.settle();
    const tasks = h.tasks(svc);
    expect(tasks).toHaveLength(3);
    expect(tasks.filter((t) => t.status?.state === TaskState.TASK_STATE_FAILED)).toHaveLength(2);
  });

  it('keeps five by default', async () => {
    h = new Harness().start();
    await h.addNode('a');
    const svc = await h.createService('web', spec(1));
    await failRepeatedly(svc, 8);
    await h.waitFor(() => h.running(svc).length === 1, 'running again');
    await h.settle();
    expect(h.tasks(svc)).toHaveLength(6);
  });

  it('keeps what max attempts needs, so a slot given up stays given up across leaders', async () => {
    h = new Harness({ retention: 1 }).start();
    await h.addNode('a');
    const svc = await h.createService('web', spec(1, { maxAttempts: 3 }));
    await failRepeatedly(svc, 4);
    expect(h.runnable(svc)).toHaveLength(0);
    expect(h.tasks(svc)).toHaveLength(4);
    h.failover();
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(0);
  });

  it('deletes the tasks of a removed service once they stopped, and unplaced ones at once', async () => {
    h = new Harness().start();
    const a = await h.addNode('a');
    const svc = await h.createService('web', spec(3));
    await h.waitFor(() => h.running(svc).length === 3, 'three running');
    await h.setAvailability(a, NodeAvailability.NODE_AVAILABILITY_PAUSE);
    await h.scale(svc, 5);
    await h.settle();
    // Two tasks wait for a node; one node's worker stops answering.
    expect(h.runnable(svc).filter((t) => t.status?.state === TaskState.TASK_STATE_PENDING)).toHaveLength(2);
    h.driver.silence(a);
    await h.removeService(svc);
    await h.settle();
    // The running ones are told to stop but have not said so: they stay until they do.
    expect(h.tasks(svc).map((t) => t.status?.state)).toEqual(Array(3).fill(TaskState.TASK_STATE_RUNNING));
    await h.store.update((tx) => tx.nodes.delete(tx.nodes.get(a)!));
    await h.waitFor(() => h.tasks(svc).length === 0, 'all deleted once their node is gone');
  });

  it('deletes the history of slots scaled away', async () => {
    h = new Harness().start();
    await h.addNode('a');
    const svc = await h.createService('web', spec(4));
    await h.waitFor(() => h.running(svc).length === 4, 'four running');
    await h.scale(svc, 2);
    await h.settle();
    expect(h.tasks(svc).map((t) => t.slot).sort()).toEqual([1, 2]);
  });

  it('a new leader cleans up what it finds', async () => {
    h = new Harness({ retention: 1 });
    h.driver.start();
    h.loops.restart.start();
    h.loops.replicated.start();
    await h.addNode('a');
    const svc = await h.createService('web', spec(1));
    await failRepeatedly(svc, 3);
    await h.waitFor(() => h.running(svc).length === 1, 'running again');
    expect(h.tasks(svc)).toHaveLength(4);
    h.failover();
    await h.settle();
    expect(h.tasks(svc)).toHaveLength(2);
  });
});
