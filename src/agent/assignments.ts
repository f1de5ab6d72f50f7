/**
 * Turns the node's assignments into task controllers: one controller per assigned task, fed each
 * new version of its task. A full set replaces what the node held (a task absent from it is stopped
 * and removed); a change adds or updates the tasks it names and removes the ones it lists as gone.
 */
import { TaskState, type Task, type TaskStatus } from '../../proto/gen/objects.js';
import type { Logger } from '../common/logger.js';
import type { PersistedTask } from './state.js';
import type { TaskController } from './task-controller.js';

export interface AssignmentPlan {
  /** New to this node: a controller is created. */
  added: Task[];
  /** Already here: the controller gets the task's new version. */
  kept: Task[];
  /** No longer assigned: stopped if need be, then removed. */
  removed: string[];
}

export function planAssignments(current: Iterable<string>, assignments: readonly Task[]): AssignmentPlan {
  const known = new Set(current);
  const assigned = new Set<string>();
  const plan: AssignmentPlan = { added: [], kept: [], removed: [] };
  for (const task of assignments) {
    const id = task.meta?.id ?? '';
    if (id === '' || assigned.has(id)) continue;
    assigned.add(id);
    (known.has(id) ? plan.kept : plan.added).push(task);
  }
  for (const id of known) if (!assigned.has(id)) plan.removed.push(id);
  return plan;
}

/**
 * A new controller's starting status: the newer of what this agent last reported and what the
 * managers hold (they may know more if this agent's state was lost), and never before ASSIGNED.
 */
export function initialStatus(task: Task, persisted?: TaskStatus): TaskStatus {
  const managers = task.status;
  const newest = persisted && (!managers || persisted.state >= managers.state) ? persisted : managers;
  if (newest && newest.state >= TaskState.TASK_STATE_ASSIGNED) return newest;
  return { state: TaskState.TASK_STATE_ASSIGNED, timestamp: 0, message: '', err: '', exitCode: 0, health: 0, containerId: '', pid: 0 };
}

/** True if `ours` says more than the managers' copy: a later state, or a health change. */
export function isAhead(ours: TaskStatus, managers: TaskStatus | undefined): boolean {
  const theirs = managers?.state ?? TaskState.TASK_STATE_NEW;
  if (ours.state !== theirs) return ours.state > theirs;
  return ours.health !== (managers?.health ?? 0);
}

export interface TaskSetDeps {
  createController: (task: Task, status: TaskStatus) => TaskController;
  /** The set or a task in it changed: the agent's state should be saved. */
  changed: () => void;
  logger: Logger;
}

export class TaskSet {
  private readonly controllers = new Map<string, TaskController>();
  private readonly removals = new Map<string, Promise<void>>();

  constructor(private readonly deps: TaskSetDeps) {}

  /** Takes up the tasks a previous agent process left, before any manager is heard from. */
  resume(persisted: readonly PersistedTask[]): void {
    for (const { task, status } of persisted) this.add(task, initialStatus(task, status));
  }

  /** Applies a full assignment set: the node's whole set, replacing what it held. */
  apply(assignments: readonly Task[]): void {
    this.applyPlan(planAssignments(this.controllers.keys(), assignments));
  }

  /** Applies a change to the set: `updated` tasks are new or changed, `removed` ones left it. */
  applyChanges(updated: readonly Task[], removed: readonly string[]): void {
    const plan: AssignmentPlan = { added: [], kept: [], removed: [] };
    const gone = new Set(removed);
    for (const task of updated) {
      const id = task.meta?.id ?? '';
      if (id === '' || gone.has(id)) continue;
      (this.controllers.has(id) ? plan.kept : plan.added).push(task);
    }
    for (const id of gone) if (this.controllers.has(id)) plan.removed.push(id);
    this.applyPlan(plan);
  }

  private applyPlan(plan: AssignmentPlan): void {
    for (const task of plan.added) this.add(task, initialStatus(task));
    for (const task of plan.kept) this.controllers.get(task.meta?.id ?? '')?.update(task);
    for (const id of plan.removed) this.remove(id);
    if (plan.added.length > 0 || plan.removed.length > 0) this.deps.changed();
  }

  get(taskId: string): TaskController | undefined {
    return this.controllers.get(taskId);
  }

  /** Every task with its newest status, for the state file. */
  snapshot(): PersistedTask[] {
    return [...this.controllers.values()].map((c) => ({ task: c.currentTask, status: c.currentStatus }));
  }

  statuses(): Map<string, TaskStatus> {
    return new Map([...this.controllers].map(([id, c]) => [id, c.currentStatus]));
  }

  /** Stops and removes every task (the node left the cluster). */
  async removeAll(): Promise<void> {
    this.apply([]);
    await Promise.all(this.removals.values());
  }

  /** Every controller stops watching; the tasks' processes keep running. */
  detach(): void {
    for (const c of this.controllers.values()) c.detach();
  }

  private add(task: Task, status: TaskStatus): void {
    const controller = this.deps.createController(task, status);
    this.controllers.set(controller.id, controller);
    controller.start();
  }

  private remove(taskId: string): void {
    const controller = this.controllers.get(taskId);
    if (!controller || this.removals.has(taskId)) return;
    this.deps.logger.info({ taskId }, 'agent: task no longer assigned; removing it');
    const removal = controller.remove().then(() => {
      this.removals.delete(taskId);
      if (this.controllers.get(taskId) === controller) this.controllers.delete(taskId);
      this.deps.changed();
    });
    this.removals.set(taskId, removal);
  }
}
