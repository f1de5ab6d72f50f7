/**
 * The leader-only loops one term of leadership runs, built fresh each time so none carries state
 * from an earlier term. The network allocator comes first (it rebuilds from the store what the
 * control API and the NEW tasks need); the orchestrators (with the restart and update supervisors and the reaper)
 * decide what tasks should exist; the scheduler places them; the role manager keeps Raft membership in
 * line with the nodes' desired roles. They stop in reverse order.
 */
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { Store } from '../store/types.js';
import { AllocatorLoop } from './allocator/allocator-loop.js';
import type { AllocatorAccess } from './allocator/allocator-access.js';
import type { LeaderLoop } from './leader-duties.js';
import { Orchestration } from './orchestrator/index.js';
import { RoleManager, type RaftMembership } from './role-manager.js';

export interface LeaderLoopDeps {
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** The Raft node's membership side; without it (a manager with no Raft to manage) there is no role manager. */
  membership?: RaftMembership;
  /** Where the allocator loop publishes its state for the control API; without it, no allocator runs. */
  allocator?: AllocatorAccess;
}

export function createLeaderLoops(deps: LeaderLoopDeps): LeaderLoop[] {
  const clock = deps.clock ?? systemClock;
  const loops: LeaderLoop[] = [];
  if (deps.allocator) loops.push(new AllocatorLoop({ store: deps.store, access: deps.allocator, logger: deps.logger.child({ component: 'allocator' }) }));
  loops.push(
    new Orchestration({ store: deps.store, clock, logger: deps.logger.child({ component: 'orchestrator' }) }),
    new Scheduler({ store: deps.store, clock, logger: deps.logger.child({ component: 'scheduler' }) }),
  );
  if (deps.membership) {
    loops.push(new RoleManager({ store: deps.store, membership: deps.membership, clock, logger: deps.logger.child({ component: 'role-manager' }) }));
  }
  return loops;
}
