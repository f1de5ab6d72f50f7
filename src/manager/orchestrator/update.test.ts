import { afterEach, describe, expect, it } from 'vitest';
import {
  HealthState,
  TaskSpec,
  TaskState,
  UpdateConfig,
  UpdateFailureAction,
  UpdateOrder,
  UpdateState,
  type ServiceSpec,
  type Task,
} from '../../../proto/gen/objects.js';
import { Harness } from './testing/harness.js';

const image = (t: Task): string => t.spec?.container?.image ?? '';
const isRunning = (t: Task): boolean => t.status?.state === TaskState.TASK_STATE_RUNNING;

function spec(replicas: number, update: Partial<UpdateConfig>, more: Partial<ServiceSpec> = {}): Partial<ServiceSpec> {
  return {
    // A long restart delay keeps failing tasks from churning while a test looks at the update.
    task: TaskSpec.fromPartial({ container: { image: 'app:1' }, restart: { delayMs: 60_000 } }),
    mode: { $case: 'replicated', replicated: { replicas } },
    update: UpdateConfig.fromPartial({ parallelism: 1, monitorMs: 1_000, ...update }),
    ...more,
  };
}

describe('UpdateSupervisor', () => {
  let h: Harness;
  afterEach(() => h.stop());

  async function service(replicas: number, update: Partial<UpdateConfig>, more: Partial<ServiceSpec> = {}): Promise<string> {
    h = new Harness().start();
    await h.addNode('a');
    await h.addNode('b');
    await h.addNode('c');
    const svc = await h.createService('web', spec(replicas, update, more));
    await h.waitFor(() => h.running(svc).length === replicas, 'all running');
    await h.settle();
    return svc;
  }

  /** Records, after every applied transaction, what a test asserts about all of them. */
  function observe(svc: string, check: (tasks: Task[]) => void): void {
    h.store.watch(() => check(h.tasks(svc)));
  }

  const state = (svc: string): UpdateState | undefined => h.service(svc)?.updateStatus?.state;

  /** Lets fake time run (at most `maxMs`, in small steps) until the update reaches `done`. */
  async function finishMonitoring(svc: string, done: UpdateState, maxMs = 3_000): Promise<void> {
    for (let elapsed = 0; state(svc) !== done && elapsed < maxMs; elapsed += 100) await h.advance(100);
    await h.waitFor(() => state(svc) === done, `update state ${done}`);
    await h.settle();
  }

  it('stop-first, parallelism 2: at most two slots at a time, never two tasks running in one slot', async () => {
    const svc = await service(6, { parallelism: 2 });
    let maxInFlight = 0;
    let overlap = false;
    observe(svc, (tasks) => {
      const inFlight = tasks.filter((t) => image(t) === 'app:2' && t.desiredState <= TaskState.TASK_STATE_RUNNING && !isRunning(t));
      maxInFlight = Math.max(maxInFlight, inFlight.length);
      for (let slot = 1; slot <= 6; slot++) {
        if (tasks.filter((t) => t.slot === slot && isRunning(t)).length > 1) overlap = true;
      }
    });
    await h.setImage(svc, 'app:2');
    expect(state(svc)).toBe(UpdateState.UPDATE_STATE_UPDATING);
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'app:2').length === 6, 'six new tasks running');
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_COMPLETED);
    expect(maxInFlight).toBe(2);
    expect(overlap).toBe(false);
    const status = h.service(svc)!.updateStatus!;
    expect(status.message).toBe('update completed');
    expect(status.completedAt).toBeGreaterThan(0);
    expect(h.runnable(svc).map((t) => t.slot).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('start-first, parallelism 2: never fewer than the replica count running', async () => {
    const svc = await service(6, { parallelism: 2, order: UpdateOrder.UPDATE_ORDER_START_FIRST });
    let minRunning = Infinity;
    let maxRunning = 0;
    observe(svc, (tasks) => {
      const running = tasks.filter((t) => isRunning(t)).length;
      minRunning = Math.min(minRunning, running);
      maxRunning = Math.max(maxRunning, running);
    });
    await h.setImage(svc, 'app:2');
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_COMPLETED);
    expect(minRunning).toBeGreaterThanOrEqual(6);
    expect(maxRunning).toBeLessThanOrEqual(8);
    expect(maxRunning).toBe(8);
    expect(h.runnable(svc).map(image)).toEqual(Array(6).fill('app:2'));
    expect(h.runnable(svc).map((t) => t.slot).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('waits the delay between batches', async () => {
    const svc = await service(3, { parallelism: 1, delayMs: 10_000, monitorMs: 0 });
    await h.setImage(svc, 'app:2');
    const updated = (): number => h.running(svc).filter((t) => image(t) === 'app:2').length;
    await h.waitFor(() => updated() === 1, 'first slot updated');
    await h.advance(9_000);
    expect(updated()).toBe(1);
    await h.advance(1_000);
    await h.waitFor(() => updated() === 2, 'second slot updated');
    await h.advance(10_000);
    await h.waitFor(() => updated() === 3, 'third slot updated');
    await h.waitFor(() => state(svc) === UpdateState.UPDATE_STATE_COMPLETED, 'completed');
  });

  it('pauses on a failure, naming the task and its error, and then does nothing until the spec changes', async () => {
    // The delay gives the first new task's failure time to land before the next batch.
    const svc = await service(3, { failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE, delayMs: 10_000 });
    h.driver.failWhen = (t) => (image(t) === 'bad:1' ? { exitCode: 2, err: 'exit status 2' } : undefined);
    await h.setImage(svc, 'bad:1');
    await h.waitFor(() => state(svc) === UpdateState.UPDATE_STATE_PAUSED, 'paused');
    await h.settle();
    const failed = h.tasks(svc).find((t) => image(t) === 'bad:1' && t.status?.state === TaskState.TASK_STATE_FAILED)!;
    expect(h.service(svc)!.updateStatus!.message).toBe(
      `update paused due to failure or early termination of task ${failed.meta!.id}: exit status 2`,
    );
    expect(h.running(svc).filter((t) => image(t) === 'app:1')).toHaveLength(2);
    await h.advance(30_000, 1_000);
    expect(h.running(svc).filter((t) => image(t) === 'app:1')).toHaveLength(2);
    expect(state(svc)).toBe(UpdateState.UPDATE_STATE_PAUSED);
    // A new spec resumes rolling.
    await h.setImage(svc, 'app:3');
    for (let i = 0; i < 3; i++) await h.advance(10_000);
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'app:3').length === 3, 'all on app:3');
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_COMPLETED);
    expect(h.runnable(svc)).toHaveLength(3);
  });

  it('continues past failures when told to', async () => {
    const svc = await service(3, { failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE });
    h.driver.failWhen = (t) => (image(t) === 'bad:1' && t.slot === 1 ? { exitCode: 1, err: 'boom' } : undefined);
    await h.setImage(svc, 'bad:1');
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'bad:1').length === 2, 'two good slots updated');
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_COMPLETED);
    expect(h.runnable(svc).map(image)).toEqual(['bad:1', 'bad:1', 'bad:1']);
  });

  it('rolls back automatically with the rollback config, and completes the rollback', async () => {
    const svc = await service(
      4,
      { failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK, delayMs: 60_000 },
      { rollback: UpdateConfig.fromPartial({ parallelism: 0, monitorMs: 1_000 }) },
    );
    h.driver.failWhen = (t) => (image(t) === 'bad:1' ? { exitCode: 1, err: 'crashed' } : undefined);
    await h.setImage(svc, 'bad:1');
    await h.waitFor(() => state(svc) === UpdateState.UPDATE_STATE_ROLLBACK_STARTED, 'rollback started');
    const s = h.service(svc)!;
    expect(s.spec!.task!.container!.image).toBe('app:1');
    expect(s.previousSpec!.task!.container!.image).toBe('bad:1');
    expect(s.specVersion).toBe(3);
    expect(s.updateStatus!.message).toMatch(/^update rolled back due to failure or early termination of task \w+: crashed$/);
    // Parallelism 0: the rollback replaces what it must in one batch, without the update's 60 s delay.
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED);
    expect(h.service(svc)!.updateStatus!.message).toBe('rollback completed');
    expect(h.running(svc).map(image)).toEqual(Array(4).fill('app:1'));
    expect(h.runnable(svc)).toHaveLength(4);
  });

  it('a failing rollback pauses as rollback paused', async () => {
    const svc = await service(2, { failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK });
    await h.setImage(svc, 'app:2');
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_COMPLETED);
    h.driver.failWhen = (t) => (image(t) === 'app:1' ? { exitCode: 1, err: 'old image gone' } : undefined);
    await h.rollback(svc);
    await h.waitFor(() => state(svc) === UpdateState.UPDATE_STATE_ROLLBACK_PAUSED, 'rollback paused');
    expect(h.service(svc)!.updateStatus!.message).toMatch(/^rollback paused due to failure or early termination of task \w+: old image gone$/);
  });

  it('rolls back by hand (the control API swapped the specs) using the rollback config', async () => {
    const svc = await service(3, { parallelism: 1, delayMs: 60_000, monitorMs: 0 }, { rollback: UpdateConfig.fromPartial({ parallelism: 3 }) });
    await h.setImage(svc, 'app:2');
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'app:2').length === 1, 'one slot on app:2');
    await h.advance(60_000);
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'app:2').length === 2, 'two slots on app:2');
    await h.rollback(svc);
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'app:1').length === 3, 'all back on app:1');
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED);
    expect(h.runnable(svc)).toHaveLength(3);
  });

  it('applies the failure action only once failures exceed the max failure ratio', async () => {
    // Two services of four replicas, ratio 0.25: one failure is tolerated, two are not.
    h = new Harness().start();
    await h.addNode('a');
    const web = await h.createService('web', spec(4, { maxFailureRatio: 0.25, delayMs: 1_000 }));
    const api = await h.createService('api', spec(4, { maxFailureRatio: 0.25, delayMs: 1_000 }));
    await h.waitFor(() => h.running(web).length === 4 && h.running(api).length === 4, 'all running');
    const failingSlots: Record<string, number[]> = { [web]: [1], [api]: [1, 2] };
    h.driver.failWhen = (t) =>
      image(t) === 'app:2' && failingSlots[t.serviceId]!.includes(t.slot) ? { exitCode: 1, err: 'bad slot' } : undefined;
    await h.setImage(web, 'app:2');
    await h.setImage(api, 'app:2');
    for (let i = 0; i < 6; i++) await h.advance(1_000, 100);
    await h.waitFor(() => state(web) === UpdateState.UPDATE_STATE_COMPLETED, 'web completed despite one failure');
    await h.waitFor(() => state(api) === UpdateState.UPDATE_STATE_PAUSED, 'api paused at the second failure');
    expect(h.running(api).filter((t) => image(t) === 'app:1').length).toBe(2);
  });

  it('counts an unhealthy new task as a failure and keeps the old one (start-first)', async () => {
    const healthcheck = { test: ['CMD', 'true'], intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0 };
    const svc = await service(2, { order: UpdateOrder.UPDATE_ORDER_START_FIRST });
    h.driver.unhealthyWhen = (t) => image(t) === 'app:2';
    await h.updateService(svc, (s) => ({ ...s, task: { ...s.task!, container: { ...s.task!.container!, image: 'app:2', healthcheck } } }));
    await h.waitFor(() => state(svc) === UpdateState.UPDATE_STATE_PAUSED, 'paused');
    expect(h.service(svc)!.updateStatus!.message).toMatch(/task is unhealthy$/);
    expect(h.running(svc).filter((t) => image(t) === 'app:1')).toHaveLength(2);
  });

  it('waits for a new task whose worker reports its health STARTING (an image’s own healthcheck) before going on', async () => {
    const svc = await service(2, { order: UpdateOrder.UPDATE_ORDER_START_FIRST, monitorMs: 0 });
    h.driver.healthStartingWhen = (t) => image(t) === 'app:2' && t.status?.health !== HealthState.HEALTH_STATE_HEALTHY;
    await h.setImage(svc, 'app:2');
    const fresh = (): Task[] => h.running(svc).filter((t) => image(t) === 'app:2');
    await h.waitFor(() => fresh().length === 1, 'one new task running');
    await h.advance(1_000);
    await h.settle();
    // RUNNING but without a verdict: the old tasks stay and the next slot is not touched.
    expect(fresh()).toHaveLength(1);
    expect(h.running(svc).filter((t) => image(t) === 'app:1')).toHaveLength(2);
    expect(state(svc)).toBe(UpdateState.UPDATE_STATE_UPDATING);

    await h.driver.makeHealthy(fresh()[0]!.meta!.id);
    await h.waitFor(() => fresh().length === 2, 'the second slot updated once the first turned healthy');
    const second = fresh().find((t) => t.status?.health === HealthState.HEALTH_STATE_STARTING)!;
    await h.driver.makeHealthy(second.meta!.id);
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_COMPLETED);
    expect(h.runnable(svc).map(image)).toEqual(['app:2', 'app:2']);
  });

  it('a newer spec supersedes the update in flight', async () => {
    const svc = await service(4, { delayMs: 60_000, monitorMs: 0 });
    await h.setImage(svc, 'app:2');
    await h.waitFor(() => h.running(svc).some((t) => image(t) === 'app:2'), 'one slot on app:2');
    await h.setImage(svc, 'app:3');
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'app:3').length === 1, 'one slot on app:3');
    for (let i = 0; i < 3; i++) await h.advance(60_000);
    await h.waitFor(() => state(svc) === UpdateState.UPDATE_STATE_COMPLETED, 'completed');
    expect(h.runnable(svc).map(image)).toEqual(Array(4).fill('app:3'));
  });

  it('a scale-only change completes at once without touching tasks', async () => {
    const svc = await service(2, {});
    const before = h.runnable(svc).map((t) => t.meta!.id).sort();
    await h.scale(svc, 3);
    await h.waitFor(() => h.running(svc).length === 3, 'three running');
    await h.waitFor(() => state(svc) === UpdateState.UPDATE_STATE_COMPLETED, 'completed');
    expect(before.every((id) => h.runnable(svc).some((t) => t.meta!.id === id))).toBe(true);
  });

  it('a new leader resumes an update mid-flight: it finishes, no slot duplicated or lost', async () => {
    const svc = await service(6, { parallelism: 2, delayMs: 5_000 });
    await h.setImage(svc, 'app:2');
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'app:2').length === 2, 'first batch done');
    // The next batch is half-way: old tasks told to stop, new ones READY; then leadership moves.
    h.driver.stop();
    await h.advance(5_000);
    await h.waitFor(() => h.runnable(svc).filter((t) => image(t) === 'app:2').length === 4, 'second batch written');
    h.failover();
    h.driver.start();
    await h.waitFor(() => h.running(svc).filter((t) => image(t) === 'app:2').length >= 4, 'second batch running');
    for (let i = 0; i < 4 && state(svc) !== UpdateState.UPDATE_STATE_COMPLETED; i++) await h.advance(5_000, 500);
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_COMPLETED);
    const runnable = h.runnable(svc);
    expect(runnable.map((t) => t.slot).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(runnable.every((t) => image(t) === 'app:2' && isRunning(t))).toBe(true);
  });

  it('a start-first update interrupted with two tasks in a slot is finished by the new leader', async () => {
    const svc = await service(2, { parallelism: 2, order: UpdateOrder.UPDATE_ORDER_START_FIRST });
    h.driver.stop();
    await h.setImage(svc, 'app:2');
    await h.waitFor(() => h.runnable(svc).length === 4, 'new tasks created beside the old');
    h.failover();
    h.driver.start();
    await finishMonitoring(svc, UpdateState.UPDATE_STATE_COMPLETED);
    const runnable = h.runnable(svc);
    expect(runnable.map((t) => t.slot).sort()).toEqual([1, 2]);
    expect(runnable.map(image)).toEqual(['app:2', 'app:2']);
  });
});
