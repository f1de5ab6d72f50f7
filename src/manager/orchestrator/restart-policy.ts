/**
 * The restart policy as a pure decision over a slot's history in the store, so that any manager
 * (a new leader included) reaches the same answer without remembering anything.
 */
import { RestartCondition, TaskState, type Task } from '../../../proto/gen/objects.js';
import { restartPolicyOf } from './defaults.js';
import { endedOnItsOwn, observedState } from './task.js';

/**
 * Whether `task`, which has stopped, should be replaced. `history` is every task of its slot (or,
 * for a global service, of its service on its node), `task` included.
 *
 * Attempts are the earlier tasks of the same spec version that ended on their own (each of them was
 * replaced, or `task` would not exist), counted within `window` before `task` ended: a new spec
 * starts with a clean count, as in swarmkit.
 */
export function shouldRestart(task: Task, history: readonly Task[]): boolean {
  const policy = restartPolicyOf(task.spec);
  switch (policy.condition) {
    case RestartCondition.RESTART_CONDITION_NONE:
      return false;
    case RestartCondition.RESTART_CONDITION_ON_FAILURE:
      if (observedState(task) === TaskState.TASK_STATE_COMPLETE && (task.status?.exitCode ?? 0) === 0) return false;
      break;
    default:
      break;
  }
  if (policy.maxAttempts === 0) return true;
  const endedAt = task.status?.timestamp ?? 0;
  const createdAt = task.meta?.createdAt ?? 0;
  let attempts = 0;
  for (const earlier of history) {
    if (earlier === task || earlier.meta?.id === task.meta?.id) continue;
    if (earlier.specVersion !== task.specVersion || !endedOnItsOwn(earlier)) continue;
    if ((earlier.meta?.createdAt ?? 0) > createdAt) continue;
    if (policy.windowMs > 0 && (earlier.status?.timestamp ?? 0) <= endedAt - policy.windowMs) continue;
    attempts++;
  }
  return attempts < policy.maxAttempts;
}

/** How long a restarted task waits before it may start. */
export function restartDelayMs(task: Task): number {
  return Math.max(0, restartPolicyOf(task.spec).delayMs);
}
