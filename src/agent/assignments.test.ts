import { describe, expect, it } from 'vitest';
import { HealthState, Task, TaskState, TaskStatus } from '../../proto/gen/objects.js';
import { silentLogger } from '../common/logger.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { initialStatus, isAhead, planAssignments, TaskSet } from './assignments.js';
import { TaskController } from './task-controller.js';
import { ScriptedExecutor } from './testing/scripted-executor.js';

const S = TaskState;
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};
const task = (id: string, extra: Partial<Task> = {}): Task =>
  Task.fromPartial({ meta: { id }, desiredState: S.TASK_STATE_RUNNING, status: { state: S.TASK_STATE_ASSIGNED }, spec: { container: { image: 'app:1' } }, ...extra });
const status = (state: TaskState, extra: Partial<TaskStatus> = {}): TaskStatus => TaskStatus.fromPartial({ state, ...extra });

describe('planAssignments', () => {
  it('splits a full set into new, kept and removed tasks', () => {
    const plan = planAssignments(['a', 'b'], [task('b'), task('c')]);
    expect(plan.added.map((t) => t.meta?.id)).toEqual(['c']);
    expect(plan.kept.map((t) => t.meta?.id)).toEqual(['b']);
    expect(plan.removed).toEqual(['a']);
  });

  it('removes everything on an empty set and ignores duplicates', () => {
    expect(planAssignments(['a'], []).removed).toEqual(['a']);
    expect(planAssignments([], [task('a'), task('a')]).added).toHaveLength(1);
  });
});

describe('initialStatus', () => {
  it('takes the newer of our last status and the managers’, never below ASSIGNED', () => {
    expect(initialStatus(task('a')).state).toBe(S.TASK_STATE_ASSIGNED);
    expect(initialStatus(task('a', { status: undefined })).state).toBe(S.TASK_STATE_ASSIGNED);
    expect(initialStatus(task('a'), status(S.TASK_STATE_RUNNING, { pid: 7 }))).toMatchObject({ state: S.TASK_STATE_RUNNING, pid: 7 });
    expect(initialStatus(task('a', { status: status(S.TASK_STATE_RUNNING) }), status(S.TASK_STATE_STARTING)).state).toBe(S.TASK_STATE_RUNNING);
  });
});

describe('isAhead', () => {
  it('is true for a later state or a new health verdict', () => {
    expect(isAhead(status(S.TASK_STATE_RUNNING), status(S.TASK_STATE_STARTING))).toBe(true);
    expect(isAhead(status(S.TASK_STATE_RUNNING), status(S.TASK_STATE_RUNNING))).toBe(false);
    expect(isAhead(status(S.TASK_STATE_STARTING), status(S.TASK_STATE_RUNNING))).toBe(false);
    expect(isAhead(status(S.TASK_STATE_RUNNING, { health: HealthState.HEALTH_STATE_UNHEALTHY }), status(S.TASK_STATE_RUNNING))).toBe(true);
    expect(isAhead(status(S.TASK_STATE_ACCEPTED), undefined)).toBe(true);
  });
});

describe('TaskSet', () => {
  function setup() {
    const executor = new ScriptedExecutor();
    const clock = new FakeClock();
    let changes = 0;
    const set = new TaskSet({
      logger: silentLogger,
      changed: () => changes++,
      createController: (t, s) =>
        new TaskController(t, s, { executor, report: () => undefined, clock, now: () => 0, logger: silentLogger, healthPollMs: 100, retryMs: 100 }),
    });
    return { set, executor, changes: () => changes };
  }

  it('runs new tasks, passes on new desired states, and stops and removes tasks no longer assigned', async () => {
    const { set, executor, changes } = setup();
    set.apply([task('a'), task('b')]);
    await settle();
    expect(set.get('a')?.currentStatus.state).toBe(S.TASK_STATE_RUNNING);
    expect(changes()).toBeGreaterThan(0);

    set.apply([task('a', { desiredState: S.TASK_STATE_SHUTDOWN }), task('b')]);
    await settle();
    expect(set.get('a')?.currentStatus.state).toBe(S.TASK_STATE_SHUTDOWN);

    set.apply([task('b')]);
    await settle();
    expect(set.get('a')).toBeUndefined();
    expect(executor.calls).toContain('remove a');
    expect([...set.statuses().keys()]).toEqual(['b']);

    await set.removeAll();
    expect(set.snapshot()).toEqual([]);
    expect(executor.isRunning('b')).toBe(false);
  });

  it('applies changes: adds and updates the tasks named, removes the ones gone, leaves the rest alone', async () => {
    const { set, executor } = setup();
    set.apply([task('a'), task('b')]);
    await settle();
    set.applyChanges([task('c'), task('a', { desiredState: S.TASK_STATE_SHUTDOWN })], ['b', 'unknown']);
    await settle();
    expect(set.get('a')?.currentStatus.state).toBe(S.TASK_STATE_SHUTDOWN);
    expect(set.get('b')).toBeUndefined();
    expect(executor.calls).toContain('remove b');
    expect(set.get('c')?.currentStatus.state).toBe(S.TASK_STATE_RUNNING);
    // A task both updated and removed in one change is gone.
    set.applyChanges([task('c')], ['c']);
    await settle();
    expect([...set.statuses().keys()]).toEqual(['a']);
  });

  it('resumes saved tasks from their saved status', async () => {
    const { set, executor } = setup();
    executor.adopt('a', 4242);
    set.resume([{ task: task('a'), status: status(S.TASK_STATE_RUNNING, { pid: 4242 }) }]);
    await settle();
    expect(executor.calls).toEqual([]);
    expect(set.snapshot()).toEqual([{ task: task('a'), status: status(S.TASK_STATE_RUNNING, { pid: 4242 }) }]);
  });
});
