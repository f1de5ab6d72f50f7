import { afterEach, describe, expect, it } from 'vitest';
import { RestartCondition, TaskState, type RestartPolicy, type ServiceSpec, type Task } from '../../../proto/gen/objects.js';
import { TaskSpec } from '../../../proto/gen/objects.js';
import { Harness } from './testing/harness.js';

function specWith(restart: Partial<RestartPolicy>, replicas = 1): Partial<ServiceSpec> {
  return {
    task: TaskSpec.fromPartial({ container: { image: 'app:1' }, restart: { delayMs: 0, ...restart } }),
    mode: { $case: 'replicated', replicated: { replicas } },
  };
}

const id = (t: Task | undefined): string => t?.meta?.id ?? '';

describe('RestartSupervisor', () => {
  let h: Harness;
  afterEach(() => h.stop());

  async function started(restart: Partial<RestartPolicy>, replicas = 1): Promise<string> {
    h = new Harness().start();
    await h.addNode('a');
    const svc = await h.createService('web', specWith(restart, replicas));
    await h.waitFor(() => h.running(svc).length === replicas, 'tasks running');
    return svc;
  }

  it('condition any: a failed task is replaced in the same slot and the old one shut down', async () => {
    const svc = await started({ condition: RestartCondition.RESTART_CONDITION_ANY });
    const first = h.running(svc)[0]!;
    await h.driver.fail(id(first));
    await h.waitFor(() => h.running(svc).length === 1 && id(h.running(svc)[0]) !== id(first), 'a replacement running');
    await h.settle();
    const replacement = h.running(svc)[0]!;
    expect(replacement.slot).toBe(first.slot);
    const old = h.tasks(svc).find((t) => id(t) === id(first))!;
    expect(old.desiredState).toBe(TaskState.TASK_STATE_SHUTDOWN);
    expect(old.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(h.runnable(svc)).toHaveLength(1);
  });

  it('condition any restarts a task that completed too', async () => {
    const svc = await started({ condition: RestartCondition.RESTART_CONDITION_ANY });
    const first = h.running(svc)[0]!;
    await h.driver.complete(id(first));
    await h.waitFor(() => h.running(svc).some((t) => id(t) !== id(first)), 'a replacement running');
  });

  it('condition on-failure: a completed task is not restarted and its slot is not refilled', async () => {
    const svc = await started({ condition: RestartCondition.RESTART_CONDITION_ON_FAILURE }, 3);
    const [done, failing] = h.running(svc);
    await h.driver.complete(id(done));
    await h.driver.fail(id(failing));
    await h.waitFor(() => h.running(svc).length === 2 && !h.running(svc).some((t) => id(t) === id(failing)), 'failed one replaced');
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(2);
    expect(h.runnable(svc).some((t) => t.slot === done!.slot)).toBe(false);
    // A new leader judges the slot the same way from the store.
    h.failover();
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(2);
  });

  it('condition none: nothing is restarted', async () => {
    const svc = await started({ condition: RestartCondition.RESTART_CONDITION_NONE }, 2);
    const [first] = h.running(svc);
    await h.driver.fail(id(first));
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(1);
    expect(h.tasks(svc)).toHaveLength(2);
  });

  it('waits the restart delay before starting the replacement', async () => {
    const svc = await started({ delayMs: 5_000 });
    const first = h.running(svc)[0]!;
    await h.driver.fail(id(first));
    await h.settle();
    const replacement = h.runnable(svc)[0]!;
    expect(id(replacement)).not.toBe(id(first));
    expect(replacement.desiredState).toBe(TaskState.TASK_STATE_READY);
    await h.advance(4_000);
    expect(h.runnable(svc)[0]!.desiredState).toBe(TaskState.TASK_STATE_READY);
    expect(h.running(svc)).toHaveLength(0);
    await h.advance(1_000);
    await h.waitFor(() => h.running(svc).length === 1, 'replacement running after the delay');
    expect(id(h.running(svc)[0])).toBe(id(replacement));
  });

  it('a new leader starts a delayed replacement whose delay has passed, and waits out the rest of one that has not', async () => {
    const svc = await started({ delayMs: 5_000 }, 2);
    const [x, y] = h.running(svc);
    await h.driver.fail(id(x));
    await h.settle();
    h.loops.stop();
    await h.advance(3_000);
    await h.driver.fail(id(y));
    await h.advance(2_500);
    h.failover();
    await h.settle();
    // x's replacement is due (5.5 s since x failed); y's is not (2.5 s).
    const ready = h.runnable(svc).filter((t) => t.desiredState === TaskState.TASK_STATE_READY);
    expect(ready.map((t) => t.slot)).toEqual([y!.slot]);
    await h.waitFor(() => h.running(svc).length === 1, 'x replacement running');
    await h.advance(2_500);
    await h.waitFor(() => h.running(svc).length === 2, 'both replacements running');
  });

  it('stops restarting after max attempts', async () => {
    const svc = await started({ maxAttempts: 2 });
    for (let i = 0; i < 3; i++) {
      const current = h.running(svc)[0]!;
      await h.driver.fail(id(current));
      await h.settle();
    }
    expect(h.runnable(svc)).toHaveLength(0);
    expect(h.tasks(svc)).toHaveLength(3);
    h.failover();
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(0);
  });

  it('counts attempts within the window only', async () => {
    const svc = await started({ maxAttempts: 1, windowMs: 10_000 });
    await h.driver.fail(id(h.running(svc)[0]));
    await h.waitFor(() => h.running(svc).length === 1, 'first restart');
    await h.advance(20_000);
    // The earlier failure is out of the window: this one may restart.
    await h.driver.fail(id(h.running(svc)[0]));
    await h.waitFor(() => h.running(svc).length === 1, 'second restart');
    await h.advance(1_000);
    // One attempt within the last 10 s already: no more.
    await h.driver.fail(id(h.running(svc)[0]));
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(0);
  });

  it('a new spec version starts a fresh attempt count', async () => {
    const svc = await started({ maxAttempts: 1 });
    await h.driver.fail(id(h.running(svc)[0]));
    await h.waitFor(() => h.running(svc).length === 1, 'first restart');
    await h.driver.fail(id(h.running(svc)[0]));
    await h.settle();
    expect(h.runnable(svc)).toHaveLength(0);
    // The update supervisor gives a slot the policy gave up on a task of the new spec.
    await h.setImage(svc, 'app:2');
    await h.waitFor(() => h.running(svc).length === 1, 'new spec running');
    await h.driver.fail(id(h.running(svc)[0]));
    await h.waitFor(() => h.running(svc).length === 1, 'restarted once under the new spec');
    expect(h.images(h.running(svc))).toEqual(['app:2']);
  });
});
