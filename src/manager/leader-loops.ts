/**
 * The leader-only loops one term of leadership runs, built fresh each time so none carries state
 * from an earlier term. The orchestrators (with the restart and update supervisors and the reaper)
 * decide what tasks should exist; the scheduler places them. They stop in reverse order.
 */
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { Store } from '../store/types.js';
import type { LeaderLoop } from './leader-duties.js';
import { Orchestration } from './orchestrator/index.js';

export interface LeaderLoopDeps {
  store: Store;
  logger: Logger;
  clock?: Clock;
}

export function createLeaderLoops(deps: LeaderLoopDeps): LeaderLoop[] {
  const clock = deps.clock ?? systemClock;
  return [
    new Orchestration({ store: deps.store, clock, logger: deps.logger.child({ component: 'orchestrator' }) }),
    new Scheduler({ store: deps.store, clock, logger: deps.logger.child({ component: 'scheduler' }) }),
  ];
}
