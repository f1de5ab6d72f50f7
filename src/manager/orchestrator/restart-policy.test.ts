import { describe, expect, it } from 'vitest';
import { RestartCondition, TaskState, type RestartPolicy, type Task } from '../../../proto/gen/objects.js';
import { makeTask } from '../../store/testing/index.js';
import { shouldRestart } from './restart-policy.js';

let created = 0;

function ended(state: TaskState, at: number, policy: Partial<RestartPolicy> = {}, exitCode = 0, specVersion = 1): Task {
  const t = makeTask({ state, desiredState: TaskState.TASK_STATE_SHUTDOWN });
  return {
    ...t,
    meta: { ...t.meta!, createdAt: ++created },
    specVersion,
    spec: { ...t.spec!, restart: { condition: RestartCondition.RESTART_CONDITION_ANY, delayMs: 0, maxAttempts: 0, windowMs: 0, ...policy } },
    status: { ...t.status!, timestamp: at, exitCode },
  };
}

describe('shouldRestart', () => {
  it('condition any restarts whatever the end', () => {
    expect(shouldRestart(ended(TaskState.TASK_STATE_COMPLETE, 0), [])).toBe(true);
    expect(shouldRestart(ended(TaskState.TASK_STATE_FAILED, 0), [])).toBe(true);
  });

  it('condition on-failure does not restart a clean exit', () => {
    const policy = { condition: RestartCondition.RESTART_CONDITION_ON_FAILURE };
    expect(shouldRestart(ended(TaskState.TASK_STATE_COMPLETE, 0, policy), [])).toBe(false);
    expect(shouldRestart(ended(TaskState.TASK_STATE_FAILED, 0, policy, 1), [])).toBe(true);
    expect(shouldRestart(ended(TaskState.TASK_STATE_REJECTED, 0, policy), [])).toBe(true);
  });

  it('condition none never restarts', () => {
    expect(shouldRestart(ended(TaskState.TASK_STATE_FAILED, 0, { condition: RestartCondition.RESTART_CONDITION_NONE }), [])).toBe(false);
  });

  it('counts earlier self-ended tasks of the same spec version against max attempts', () => {
    const policy = { maxAttempts: 2 };
    const first = ended(TaskState.TASK_STATE_FAILED, 1, policy);
    const shutDown = ended(TaskState.TASK_STATE_SHUTDOWN, 2, policy);
    const otherVersion = ended(TaskState.TASK_STATE_FAILED, 3, policy, 1, 0);
    const second = ended(TaskState.TASK_STATE_FAILED, 4, policy);
    const third = ended(TaskState.TASK_STATE_FAILED, 5, policy);
    expect(shouldRestart(second, [first, shutDown, otherVersion, second])).toBe(true);
    expect(shouldRestart(third, [first, shutDown, otherVersion, second, third])).toBe(false);
    // Tasks made after the one judged do not count.
    expect(shouldRestart(first, [first, second, third])).toBe(true);
  });

  it('counts only attempts within the window before the task ended', () => {
    const policy = { maxAttempts: 1, windowMs: 10_000 };
    const old = ended(TaskState.TASK_STATE_FAILED, 1_000, policy);
    const recent = ended(TaskState.TASK_STATE_FAILED, 25_000, policy);
    const now = ended(TaskState.TASK_STATE_FAILED, 30_000, policy);
    expect(shouldRestart(recent, [old, recent])).toBe(true);
    expect(shouldRestart(now, [old, recent, now])).toBe(false);
  });
});
