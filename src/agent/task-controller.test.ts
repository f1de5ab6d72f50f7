import { describe, expect, it } from 'vitest';
import { HealthState, Task, TaskState, TaskStatus } from '../../proto/gen/objects.js';
import { silentLogger } from '../common/logger.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { DRAIN_MS, exitError, nextAction, TaskController, type ControllerView } from './task-controller.js';
import { ScriptedExecutor } from './testing/scripted-executor.js';

const S = TaskState;
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const healthcheck = { test: ['CMD', 'true'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 };

function task(id = 't1', extra: Partial<Task> = {}): Task {
  return Task.fromPartial({
    meta: { id },
    nodeId: 'n1',
    desiredState: S.TASK_STATE_RUNNING,
    spec: { container: { image: 'app:1' } },
    status: { state: S.TASK_STATE_ASSIGNED },
    ...extra,
  });
}

/** A controller over a ScriptedExecutor and a manual clock, recording what it reports. */
function setup(t: Task = task(), initial: Partial<TaskStatus> = { state: S.TASK_STATE_ASSIGNED }, executor = new ScriptedExecutor()) {
  const clock = new FakeClock();
  const reports: TaskStatus[] = [];
  const controller = new TaskController(t, TaskStatus.fromPartial(initial), {
    executor,
    report: (_id, status) => reports.push(status),
    clock,
    now: () => 1_700_000_000_000,
    logger: silentLogger,
    healthPollMs: 100,
    retryMs: 1_000,
  });
  const states = () => reports.map((r) => S[r.state].replace('TASK_STATE_', ''));
  return { controller, executor, clock, reports, states };
}

describe('nextAction', () => {
  const view = (v: Partial<ControllerView>): ControllerView => ({ state: S.TASK_STATE_ASSIGNED, desired: S.TASK_STATE_RUNNING, hasProcess: false, removing: false, ...v });

  it('climbs towards the desired state one step at a time', () => {
    expect(nextAction(view({ state: S.TASK_STATE_ASSIGNED }))).toBe('accept');
    expect(nextAction(view({ state: S.TASK_STATE_ACCEPTED }))).toBe('prepare');
    expect(nextAction(view({ state: S.TASK_STATE_PREPARING }))).toBe('prepare');
    expect(nextAction(view({ state: S.TASK_STATE_READY }))).toBe('start');
    expect(nextAction(view({ state: S.TASK_STATE_STARTING, hasProcess: true }))).toBe('idle');
    expect(nextAction(view({ state: S.TASK_STATE_RUNNING, hasProcess: true }))).toBe('idle');
  });

  it('prepares but does not start a task wanted READY', () => {
    expect(nextAction(view({ state: S.TASK_STATE_ACCEPTED, desired: S.TASK_STATE_READY }))).toBe('prepare');
    expect(nextAction(view({ state: S.TASK_STATE_READY, desired: S.TASK_STATE_READY }))).toBe('idle');
  });

  it('stops a task wanted down, whatever its state, until it has finished and has no process', () => {
    const down = { desired: S.TASK_STATE_SHUTDOWN };
    expect(nextAction(view({ ...down, state: S.TASK_STATE_ASSIGNED }))).toBe('stop');
    expect(nextAction(view({ ...down, state: S.TASK_STATE_RUNNING, hasProcess: true }))).toBe('stop');
    expect(nextAction(view({ ...down, state: S.TASK_STATE_SHUTDOWN }))).toBe('idle');
    // A finished task whose process lingers (it failed its healthcheck) has it stopped.
    expect(nextAction(view({ state: S.TASK_STATE_FAILED, hasProcess: true }))).toBe('stop');
    expect(nextAction(view({ state: S.TASK_STATE_FAILED }))).toBe('idle');
  });

  it('stops, then removes, a task that left the assignments', () => {
    expect(nextAction(view({ removing: true, state: S.TASK_STATE_RUNNING, hasProcess: true }))).toBe('stop');
    expect(nextAction(view({ removing: true, state: S.TASK_STATE_READY }))).toBe('stop');
    expect(nextAction(view({ removing: true, state: S.TASK_STATE_SHUTDOWN }))).toBe('remove');
    expect(nextAction(view({ removing: true, state: S.TASK_STATE_COMPLETE }))).toBe('remove');
  });
});

describe('exitError', () => {
  it('names the exit code, out-of-memory kills, and lost exits', () => {
    expect(exitError({ exitCode: 137 })).toBe('task failed: exit code 137');
    expect(exitError({ exitCode: 137, oomKilled: true })).toBe('task failed: exit code 137 (out of memory)');
    expect(exitError({ exitCode: -1, error: 'the executor has no record of it' })).toBe('task failed: the executor has no record of it');
  });
});

describe('TaskController', () => {
  it('drives an assigned task to RUNNING through the executor, reporting every state once', async () => {
    const { controller, executor, states, reports } = setup();
    controller.start();
    await settle();
    expect(states()).toEqual(['ACCEPTED', 'PREPARING', 'READY', 'STARTING', 'RUNNING']);
    expect(executor.calls).toEqual(['prepare t1', 'start t1']);
    expect(reports.at(-1)).toMatchObject({ message: 'started', pid: 1000, timestamp: 1_700_000_000_000 });
  });

  it('prepares a task wanted READY and starts it only when it is wanted RUNNING', async () => {
    const { controller, executor, states } = setup(task('t1', { desiredState: S.TASK_STATE_READY }));
    controller.start();
    await settle();
    expect(states()).toEqual(['ACCEPTED', 'PREPARING', 'READY']);
    expect(executor.calls).toEqual(['prepare t1']);
    controller.update(task('t1', { desiredState: S.TASK_STATE_RUNNING }));
    await settle();
    expect(states().slice(3)).toEqual(['STARTING', 'RUNNING']);
  });

  it('stops a running task with its stop grace period and reports SHUTDOWN, not a failure', async () => {
    const t = task('t1', { spec: { container: { image: 'app:1', stopGracePeriodMs: 3_000 } } } as Partial<Task>);
    const { controller, executor, states } = setup(t);
    controller.start();
    await settle();
    controller.update({ ...t, desiredState: S.TASK_STATE_SHUTDOWN });
    await settle();
    expect(executor.calls).toContain('shutdown t1 3000');
    expect(states().at(-1)).toBe('SHUTDOWN');
    expect(states()).not.toContain('FAILED');
  });

  it('waits out the drain pause before stopping a running task with network addresses, so nodes stop balancing to it first', async () => {
    const t = task('t1', { networks: [{ networkId: 'net', address: '10.0.1.5/24', aliases: [] }] });
    const { controller, executor, clock, states } = setup(t);
    controller.start();
    await settle();
    expect(states().at(-1)).toBe('RUNNING');
    controller.update({ ...t, desiredState: S.TASK_STATE_SHUTDOWN });
    await settle();
    clock.advance(DRAIN_MS - 1);
    await settle();
    expect(executor.calls.filter((c) => c.startsWith('shutdown'))).toEqual([]);
    clock.advance(1);
    await settle();
    expect(executor.calls).toContain('shutdown t1 10000');
    expect(states().at(-1)).toBe('SHUTDOWN');
  });

  it('uses docker’s 10 s stop grace period when the spec gives none', async () => {
    const { controller, executor } = setup();
    controller.start();
    await settle();
    controller.update(task('t1', { desiredState: S.TASK_STATE_SHUTDOWN }));
    await settle();
    expect(executor.calls).toContain('shutdown t1 10000');
  });

  it('reports COMPLETE on exit 0 and FAILED with the exit code otherwise', async () => {
    const done = setup(task('done'));
    done.controller.start();
    await settle();
    done.executor.exit('done', { exitCode: 0 });
    await settle();
    expect(done.reports.at(-1)).toMatchObject({ state: S.TASK_STATE_COMPLETE, exitCode: 0, err: '' });

    const killed = setup(task('killed'));
    killed.controller.start();
    await settle();
    killed.executor.exit('killed', { exitCode: 137 });
    await settle();
    expect(killed.reports.at(-1)).toMatchObject({ state: S.TASK_STATE_FAILED, exitCode: 137, err: 'task failed: exit code 137' });
    // A finished task is left alone until it leaves the assignments.
    expect(killed.executor.calls).toEqual(['prepare killed', 'start killed']);
  });

  it('rejects a task the executor cannot prepare, and fails one it cannot start', async () => {
    const rejected = setup(task('r'));
    rejected.executor.failures.set('prepare r', 'no such image: app:1');
    rejected.controller.start();
    await settle();
    expect(rejected.states()).toEqual(['ACCEPTED', 'PREPARING', 'REJECTED']);
    expect(rejected.reports.at(-1)?.err).toBe('task rejected: no such image: app:1');

    const failed = setup(task('f'));
    failed.executor.failures.set('start f', 'exec format error');
    failed.controller.start();
    await settle();
    expect(failed.states().slice(-2)).toEqual(['STARTING', 'FAILED']);
    expect(failed.reports.at(-1)?.err).toBe('task failed: could not start: exec format error');
  });

  it('keeps a task with a healthcheck STARTING until it is healthy, and fails and stops it once unhealthy', async () => {
    const t = task('h', { spec: { container: { image: 'app:1', healthcheck } } } as Partial<Task>);
    const { controller, executor, clock, states, reports } = setup(t);
    executor.healthOf.set('h', HealthState.HEALTH_STATE_STARTING);
    controller.start();
    await settle();
    expect(states().at(-1)).toBe('STARTING');
    expect(reports.at(-1)?.health).toBe(HealthState.HEALTH_STATE_STARTING);
    clock.advance(100);
    await settle();
    expect(states().at(-1)).toBe('STARTING');
    executor.healthOf.set('h', HealthState.HEALTH_STATE_HEALTHY);
    clock.advance(100);
    await settle();
    expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_RUNNING, health: HealthState.HEALTH_STATE_HEALTHY });
    executor.healthOf.set('h', HealthState.HEALTH_STATE_UNHEALTHY);
    clock.advance(100);
    await settle();
    expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_FAILED, health: HealthState.HEALTH_STATE_UNHEALTHY, err: 'task failed: unhealthy container' });
    expect(executor.calls.at(-1)).toBe('shutdown h 10000');
    expect(executor.isRunning('h')).toBe(false);
    expect(states().filter((s) => s === 'FAILED')).toHaveLength(1);
  });

  it('gates a task on the healthcheck the executor runs, though its spec names none (the image’s own)', async () => {
    const { controller, executor, clock, states, reports } = setup(task('img'));
    executor.healthOf.set('img', HealthState.HEALTH_STATE_STARTING);
    controller.start();
    await settle();
    expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_STARTING, health: HealthState.HEALTH_STATE_STARTING, pid: 1000 });
    clock.advance(100);
    await settle();
    expect(states().at(-1)).toBe('STARTING');
    executor.healthOf.set('img', HealthState.HEALTH_STATE_HEALTHY);
    clock.advance(100);
    await settle();
    expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_RUNNING, message: 'started', health: HealthState.HEALTH_STATE_HEALTHY });
    expect(states()).toEqual(['ACCEPTED', 'PREPARING', 'READY', 'STARTING', 'STARTING', 'RUNNING']);

    const sick = setup(task('sick'));
    sick.executor.healthOf.set('sick', HealthState.HEALTH_STATE_STARTING);
    sick.controller.start();
    await settle();
    sick.executor.healthOf.set('sick', HealthState.HEALTH_STATE_UNHEALTHY);
    sick.clock.advance(100);
    await settle();
    expect(sick.states()).not.toContain('RUNNING');
    expect(sick.reports.at(-1)).toMatchObject({ state: S.TASK_STATE_FAILED, err: 'task failed: unhealthy container' });
    expect(sick.executor.isRunning('sick')).toBe(false);
  });

  it('asks for health as soon as the process runs: healthy already or without a check, RUNNING at once', async () => {
    const t = task('h', { spec: { container: { image: 'app:1', healthcheck } } } as Partial<Task>);
    const healthy = setup(t);
    healthy.executor.healthOf.set('h', HealthState.HEALTH_STATE_HEALTHY);
    healthy.controller.start();
    await settle();
    expect(healthy.reports.at(-1)).toMatchObject({ state: S.TASK_STATE_RUNNING, health: HealthState.HEALTH_STATE_HEALTHY });

    // The executor's word over the spec's: NONE means no check runs (nothing left to poll).
    const unchecked = setup(t);
    unchecked.controller.start();
    await settle();
    expect(unchecked.reports.at(-1)).toMatchObject({ state: S.TASK_STATE_RUNNING, health: HealthState.HEALTH_STATE_NONE });
    unchecked.executor.healthOf.set('h', HealthState.HEALTH_STATE_UNHEALTHY);
    unchecked.clock.advance(1_000);
    await settle();
    expect(unchecked.states().at(-1)).toBe('RUNNING');
  });

  it('shows the progress of a long prepare as the PREPARING message, then moves on', async () => {
    const { controller, executor, reports } = setup();
    executor.progressOf.set('t1', ['pulling app:1', 'pulling app:1: 1/2 layers, 1.2 MB', 'pulling app:1: 1/2 layers, 1.2 MB']);
    const release = executor.hold('prepare', 't1');
    controller.start();
    await settle();
    const preparing = reports.filter((r) => r.state === S.TASK_STATE_PREPARING).map((r) => r.message);
    expect(preparing).toEqual(['preparing', 'pulling app:1', 'pulling app:1: 1/2 layers, 1.2 MB']);
    expect(controller.currentStatus.message).toBe('pulling app:1: 1/2 layers, 1.2 MB');
    release();
    await settle();
    expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_RUNNING, message: 'started' });
  });

  it('stops a task told to shut down mid-prepare once prepare returns, without starting it', async () => {
    const { controller, executor, states } = setup();
    const release = executor.hold('prepare', 't1');
    controller.start();
    await settle();
    controller.update(task('t1', { desiredState: S.TASK_STATE_SHUTDOWN }));
    release();
    await settle();
    expect(states()).toEqual(['ACCEPTED', 'PREPARING', 'READY', 'SHUTDOWN']);
    expect(executor.calls).toEqual(['prepare t1']);
  });

  it('stops and removes a task that left the assignments', async () => {
    const { controller, executor, states } = setup();
    controller.start();
    await settle();
    const removed = controller.remove();
    await removed;
    expect(executor.calls.slice(-2)).toEqual(['shutdown t1 10000', 'remove t1']);
    expect(states().at(-1)).toBe('SHUTDOWN');
    expect(executor.isRunning('t1')).toBe(false);
  });

  it('retries a shutdown the executor failed', async () => {
    const { controller, executor, clock, states } = setup();
    controller.start();
    await settle();
    executor.failures.set('shutdown t1', 'runtime busy');
    controller.update(task('t1', { desiredState: S.TASK_STATE_SHUTDOWN }));
    await settle();
    expect(states().at(-1)).toBe('RUNNING');
    clock.advance(1_000);
    await settle();
    expect(states().at(-1)).toBe('SHUTDOWN');
    expect(executor.calls.filter((c) => c.startsWith('shutdown'))).toHaveLength(2);
  });

  it('detaches without touching the process, and reports nothing more', async () => {
    const { controller, executor, reports } = setup();
    controller.start();
    await settle();
    const count = reports.length;
    controller.detach();
    executor.exit('t1', { exitCode: 1 });
    controller.update(task('t1', { desiredState: S.TASK_STATE_SHUTDOWN }));
    await settle();
    expect(reports).toHaveLength(count);
    expect(executor.calls).toEqual(['prepare t1', 'start t1']);
  });

  describe('after an agent restart', () => {
    it('re-attaches to a running process instead of starting another', async () => {
      const executor = new ScriptedExecutor();
      executor.adopt('t1', 4242);
      const { controller, reports } = setup(task(), { state: S.TASK_STATE_RUNNING, pid: 4242 }, executor);
      controller.start();
      await settle();
      expect(executor.calls).toEqual([]);
      expect(reports).toEqual([]);
      executor.exit('t1', { exitCode: 137 });
      await settle();
      expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_FAILED, exitCode: 137, pid: 4242 });
    });

    it('adopts a process started just before the agent stopped, before it reported STARTING', async () => {
      const executor = new ScriptedExecutor();
      executor.adopt('t1', 4242);
      const { controller, states, reports } = setup(task(), { state: S.TASK_STATE_READY }, executor);
      controller.start();
      await settle();
      expect(states()).toEqual(['STARTING', 'RUNNING']);
      expect(reports.at(-1)?.pid).toBe(4242);
      expect(executor.calls).toEqual([]);
    });

    it('keeps an adopted process with a healthcheck STARTING until the executor finds it healthy', async () => {
      const executor = new ScriptedExecutor();
      executor.adopt('t1', 4242);
      executor.healthOf.set('t1', HealthState.HEALTH_STATE_STARTING);
      const { controller, clock, states } = setup(task(), { state: S.TASK_STATE_READY }, executor);
      controller.start();
      await settle();
      expect(states()).toEqual(['STARTING', 'STARTING']);
      executor.healthOf.set('t1', HealthState.HEALTH_STATE_HEALTHY);
      clock.advance(100);
      await settle();
      expect(states()).toEqual(['STARTING', 'STARTING', 'RUNNING']);
    });

    it('reports how a process that ended meanwhile exited', async () => {
      const executor = new ScriptedExecutor();
      executor.adopt('t1', 4242, { exitCode: 2 });
      const { controller, reports } = setup(task(), { state: S.TASK_STATE_RUNNING }, executor);
      controller.start();
      await settle();
      expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_FAILED, exitCode: 2, err: 'task failed: exit code 2' });

      const oom = new ScriptedExecutor();
      oom.adopt('t1', 4242, { exitCode: 137, oomKilled: true });
      const killed = setup(task(), { state: S.TASK_STATE_RUNNING }, oom);
      killed.controller.start();
      await settle();
      expect(killed.reports.at(-1)).toMatchObject({ state: S.TASK_STATE_FAILED, exitCode: 137, err: 'task failed: exit code 137 (out of memory)' });
    });

    it('reports SHUTDOWN for a process that ended meanwhile when it was wanted down', async () => {
      const executor = new ScriptedExecutor();
      executor.adopt('t1', 4242, { exitCode: 143 });
      const { controller, states } = setup(task('t1', { desiredState: S.TASK_STATE_SHUTDOWN }), { state: S.TASK_STATE_RUNNING }, executor);
      controller.start();
      await settle();
      expect(states()).toEqual(['SHUTDOWN']);
    });

    it('fails a started task the executor has no record of', async () => {
      const { controller, reports } = setup(task(), { state: S.TASK_STATE_RUNNING });
      controller.start();
      await settle();
      expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_FAILED, err: 'task failed: the executor has no record of it' });
    });

    it('carries on with a task that had not started', async () => {
      const { controller, states, executor } = setup(task(), { state: S.TASK_STATE_PREPARING });
      controller.start();
      await settle();
      expect(states()).toEqual(['READY', 'STARTING', 'RUNNING']);
      expect(executor.calls).toEqual(['prepare t1', 'start t1']);
    });

    it('asks the executor again when it cannot tell what runs, rather than guessing', async () => {
      const executor = new ScriptedExecutor();
      executor.adopt('t1', 4242);
      executor.failures.set('inspect t1', 'runtime not ready');
      const { controller, clock, reports } = setup(task(), { state: S.TASK_STATE_RUNNING }, executor);
      controller.start();
      await settle();
      expect(reports).toEqual([]);
      clock.advance(1_000);
      await settle();
      executor.exit('t1', { exitCode: 0 });
      await settle();
      expect(reports.at(-1)).toMatchObject({ state: S.TASK_STATE_COMPLETE });
      expect(executor.calls).toEqual([]);
    });
  });
});
