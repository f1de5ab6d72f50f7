import type { PlacementPlan } from '../schedule.js';

/** How many tasks a plan put on each node. */
export function countByNode(plan: PlacementPlan): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { nodeId } of plan.assigned) counts[nodeId] = (counts[nodeId] ?? 0) + 1;
  return counts;
}
