/**
 * What one session has told its node, so that later messages carry only the difference: the first
 * message is the full set (assignments.ts), after that `updated` holds tasks that are new to the
 * node or whose desired state moved, and `removed` the ids that left its set. The dispatcher marks
 * the tasks store events touched; only those are looked at again, so a message costs what changed,
 * not the size of the node's set.
 */
import type { Task, TaskState } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';
import { assignmentsOf, isAssigned } from './assignments.js';

export interface AssignmentChanges {
  full: boolean;
  updated: Task[];
  removed: string[];
}

export class AssignmentTracker {
  /** Task id → the desired state the node was last sent, for every task in its set. */
  private readonly sent = new Map<string, TaskState>();
  /** Tasks that may have changed for the node since the last message. */
  private readonly touched = new Set<string>();
  private full = true;

  /** A store event concerned the task (it is, or was, placed on the node). */
  touch(taskId: string): void {
    if (!this.full) this.touched.add(taskId);
  }

  /** The next message sends the whole set again (after the store was replaced wholesale). */
  startOver(): void {
    this.full = true;
    this.touched.clear();
  }

  /** Whether next() might find something to send. */
  get pending(): boolean {
    return this.full || this.touched.size > 0;
  }

  /**
   * The changes since the last call, recorded as sent; undefined when nothing the node acts on
   * changed (the first call always answers: the full set, possibly empty).
   */
  next(tx: ReadTx, nodeId: string): AssignmentChanges | undefined {
    if (this.full) return this.fullSet(tx, nodeId);
    const updated: Task[] = [];
    const removed: string[] = [];
    for (const id of this.touched) {
      const task = tx.tasks.get(id);
      const wasSent = this.sent.get(id);
      if (task !== undefined && task.nodeId === nodeId && isAssigned(task)) {
        if (wasSent === task.desiredState) continue;
        this.sent.set(id, task.desiredState);
        updated.push(task);
      } else if (wasSent !== undefined) {
        this.sent.delete(id);
        removed.push(id);
      }
    }
    this.touched.clear();
    if (updated.length === 0 && removed.length === 0) return undefined;
    return { full: false, updated, removed };
  }

  private fullSet(tx: ReadTx, nodeId: string): AssignmentChanges {
    const tasks = assignmentsOf(tx, nodeId);
    this.sent.clear();
    for (const task of tasks) this.sent.set(task.meta?.id ?? '', task.desiredState);
    this.full = false;
    this.touched.clear();
    return { full: true, updated: tasks, removed: [] };
  }
}
