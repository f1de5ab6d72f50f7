/**
 * The rules for a node's status reports: a node speaks only for tasks placed on it, and an observed
 * state only moves forward, so a late or repeated report can never undo a newer one.
 */
import type { Task, TaskStatus } from '../../../proto/gen/objects.js';
import type { WriteTx } from '../../store/types.js';

export interface StatusReport {
  taskId: string;
  status?: TaskStatus;
}

/** True if `next` says something new: a later state, or a health change within the same state. */
export function isStatusAdvance(current: TaskStatus | undefined, next: TaskStatus): boolean {
  const state = current?.state ?? 0;
  if (next.state !== state) return next.state > state;
  return next.health !== (current?.health ?? 0);
}

/**
 * The newest report per task in one batch: the latest state, and of equal states the later report.
 * A batch often carries a task's whole climb (ACCEPTED, PREPARING, ...); only its top matters.
 */
export function newestReports(reports: readonly StatusReport[]): Map<string, TaskStatus> {
  const newest = new Map<string, TaskStatus>();
  for (const { taskId, status } of reports) {
    if (!status) continue;
    const kept = newest.get(taskId);
    if (!kept || status.state >= kept.state) newest.set(taskId, status);
  }
  return newest;
}

/**
 * Writes the reports that pass the rules into `tx`; returns how many tasks changed. `now` stamps
 * reports that carry no timestamp of their own.
 */
export function applyStatusReports(tx: WriteTx, nodeId: string, reports: readonly StatusReport[], now: number): number {
  let applied = 0;
  for (const [taskId, report] of newestReports(reports)) {
    const task = tx.tasks.get(taskId);
    if (!task || task.nodeId !== nodeId || !isStatusAdvance(task.status, report)) continue;
    const updated: Task = { ...task, status: { ...report, timestamp: report.timestamp || now } };
    tx.tasks.update(updated);
    applied++;
  }
  return applied;
}
