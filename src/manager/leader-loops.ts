/**
 * The leader-only loops one term of leadership runs, built fresh each time so none carries state
 * from an earlier term. The orchestrators (with the restart and update supervisors and the reaper)
 * decide what tasks should exist; the scheduler places them; the role manager keeps Raft membership in
 * line with the nodes' desired roles. They stop in reverse order.
 */
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { Store } from '../store/types.js';
import type { LeaderLoop } from './leader-duties.js';
import { Orchestration } from './orchestrator/index.js';
import { RoleManager, type RaftMembership } from './role-manager.js';

export interface LeaderLoopDeps {
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** The Raft node's membership side; without it (a manager with no Raft to manage) there is no role manager. */
  membership?: RaftMembership;
}

export function createLeaderLoops(deps: LeaderLoopDeps): LeaderLoop[] {
  const clock = deps.clock ?? systemClock;
  const loops: LeaderLoop[] = [
    new Orchestration({ store: deps.store, clock, logger: deps.logger.child({ component: 'orchestrator' }) }),
    new Scheduler({ store: deps.store, clock, logger: deps.logger.child({ component: 'scheduler' }) }),
  ];
  if (deps.membership) {
    loops.push(new RoleManager({ store: deps.store, membership: deps.membership, clock, logger: deps.logger.child({ component: 'role-manager' }) }));
  }
  return loops;
}
