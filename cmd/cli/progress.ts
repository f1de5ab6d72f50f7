/**
 * Live progress of a service converging, as docker draws it:
 *
 *   overall progress: 3 out of 4 tasks
 *   1/4: running   [==================================================>]
 *   2/4: starting  [============================================>      ]
 *   verify: Service converged
 *
 * `ProgressTracker` turns successive (service, tasks, nodes) readings into lines; it is pure apart
 * from remembering which display row each slot took. The renderers draw lines on a terminal
 * (redrawn in place) or on a pipe (one line per change).
 */
import { TaskSpec, TaskState, type Service, type Task } from '../../proto/gen/objects.js';
import type { Output } from './io.js';
import { ellipsis, shortId } from './table.js';
import { taskProblem, taskStateWord } from './task-view.js';

export interface ProgressLine {
  readonly id: string;
  readonly text: string;
}

export interface ProgressView {
  readonly lines: ProgressLine[];
  readonly running: number;
  readonly desired: number;
  /** Every desired task of the current spec is running. */
  readonly converged: boolean;
  /** Tasks of an older spec that are still meant to run: an update has work left. */
  readonly outdated: number;
}

/** Beyond this many tasks only the overall line is drawn, as docker does. */
const MAX_PROGRESS_BARS = 20;
const BAR_WIDTH = 50;
/** The longest state word drawn with a bar ("preparing"), so that bars line up. */
const STATE_WIDTH = 9;
const MAX_ERROR_WIDTH = 75;

export class ProgressTracker {
  /** Slot number → display row (1-based), kept across readings so that rows do not jump. */
  private readonly rows = new Map<number, number>();
  private readonly lastText = new Map<string, string>();

  update(service: Service, tasks: readonly Task[], activeNodes: ReadonlySet<string>, rollback: boolean): ProgressView {
    const current = service.spec?.task;
    const upToDate: Task[] = [];
    let outdated = 0;
    for (const task of tasks) {
      if (sameTaskSpec(task.spec, current)) upToDate.push(task);
      else if (task.desiredState <= TaskState.TASK_STATE_RUNNING) outdated++;
    }
    const onLiveNodes = upToDate.filter((t) => t.nodeId === '' || activeNodes.has(t.nodeId));
    const mode = service.spec?.mode;
    const view = mode?.$case === 'replicated' ? this.replicated(mode.replicated.replicas, onLiveNodes, rollback) : this.global(onLiveNodes, rollback);
    return { ...view, outdated };
  }

  private replicated(replicas: number, tasks: readonly Task[], rollback: boolean): Omit<ProgressView, 'outdated'> {
    const bySlot = pickPerKey(tasks, (t) => t.slot);
    const runnableSlots = [...bySlot.values()].filter(isRunnable).map((t) => t.slot).sort((a, b) => a - b);
    for (const slot of runnableSlots) if (!this.rows.has(slot)) this.rows.set(slot, this.rows.size + 1);
    const running = [...bySlot.values()].filter(isRunning).length;

    const lines = [overallLine(running, replicas, rollback)];
    if (replicas <= MAX_PROGRESS_BARS) {
      const taskByRow = new Map<number, Task>();
      for (const [slot, task] of bySlot) {
        const row = this.rows.get(slot);
        if (row !== undefined && row <= replicas) taskByRow.set(row, task);
      }
      for (let row = 1; row <= replicas; row++) lines.push(this.taskLine(`${row}/${replicas}`, taskByRow.get(row)));
    }
    return { lines, running, desired: replicas, converged: running === replicas };
  }

  private global(tasks: readonly Task[], rollback: boolean): Omit<ProgressView, 'outdated'> {
    const byNode = pickPerKey(tasks, (t) => t.nodeId);
    // The orchestrator creates a task for every eligible node at once: its up-to-date runnable
    // tasks say how many nodes the service should run on.
    const perNode = [...byNode.values()].filter(isRunnable).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    if (perNode.length === 0) {
      return { lines: [{ id: 'overall progress', text: 'waiting for new tasks' }], running: 0, desired: 0, converged: false };
    }
    const running = perNode.filter(isRunning).length;
    const lines = [overallLine(running, perNode.length, rollback)];
    if (perNode.length <= MAX_PROGRESS_BARS) for (const task of perNode) lines.push(this.taskLine(shortId(task.nodeId), task));
    return { lines, running, desired: perNode.length, converged: running === perNode.length };
  }

  /** A row keeps its last text while its task is between generations (docker draws no change then). */
  private taskLine(id: string, task: Task | undefined): ProgressLine {
    const text = task === undefined ? undefined : taskText(task);
    if (text !== undefined) this.lastText.set(id, text);
    return { id, text: this.lastText.get(id) ?? '' };
  }
}

function overallLine(running: number, desired: number, rollback: boolean): ProgressLine {
  const counts = `${running} out of ${desired} tasks`;
  return { id: 'overall progress', text: rollback ? `rolling back update: ${counts}` : counts };
}

function taskText(task: Task): string | undefined {
  const problem = taskProblem(task);
  if (problem !== '') return ellipsis(problem.replace(/\n/g, ' '), MAX_ERROR_WIDTH);
  const state = task.status?.state ?? TaskState.TASK_STATE_NEW;
  if (!isRunnable(task) || state > TaskState.TASK_STATE_RUNNING) return undefined;
  return `${taskStateWord(state).padEnd(STATE_WIDTH)} ${progressBar(state)}`;
}

/** NEW..RUNNING as a bar: running is full. */
export function progressBar(state: TaskState): string {
  const steps = TaskState.TASK_STATE_RUNNING + 1;
  const filled = Math.floor((BAR_WIDTH * (Math.min(state, TaskState.TASK_STATE_RUNNING) + 1)) / steps);
  return `[${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled)}]`;
}

function isRunnable(task: Task): boolean {
  return task.desiredState <= TaskState.TASK_STATE_RUNNING;
}

function isRunning(task: Task): boolean {
  return isRunnable(task) && task.status?.state === TaskState.TASK_STATE_RUNNING;
}

/**
 * One task per slot (or node): the one with the lowest desired state, then the lowest observed
 * state, as docker picks. Several generations share a slot while a task restarts or, with
 * start-first updates, while old and new overlap.
 */
function pickPerKey<K>(tasks: readonly Task[], key: (t: Task) => K): Map<K, Task> {
  const picked = new Map<K, Task>();
  for (const task of tasks) {
    const k = key(task);
    const existing = picked.get(k);
    if (existing !== undefined) {
      if (existing.desiredState < task.desiredState) continue;
      if (existing.desiredState === task.desiredState && (existing.status?.state ?? 0) <= (task.status?.state ?? 0)) continue;
    }
    picked.set(k, task);
  }
  return picked;
}

/** Task specs compared as protobuf bytes with label maps in key order (protobuf keeps insertion order). */
function sameTaskSpec(a: TaskSpec | undefined, b: TaskSpec | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.from(TaskSpec.encode(canonical(a)).finish()).equals(TaskSpec.encode(canonical(b)).finish());
}

function canonical(spec: TaskSpec): TaskSpec {
  const container = spec.container;
  if (!container) return spec;
  const labels = Object.fromEntries(Object.entries(container.labels).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return { ...spec, container: { ...container, labels } };
}

export interface ProgressRenderer {
  show(lines: readonly ProgressLine[]): void;
}

/** Rows in order of first appearance; each redraw moves the cursor back up over the previous one. */
export class TerminalProgress implements ProgressRenderer {
  private readonly texts = new Map<string, string>();
  private drawn = 0;
  private lastRows = '';

  constructor(private readonly out: Output) {}

  show(lines: readonly ProgressLine[]): void {
    for (const line of lines) this.texts.set(line.id, line.text);
    const rows = [...this.texts].map(([id, text]) => `\x1b[2K${id}: ${text}\n`).join('');
    if (rows === this.lastRows) return;
    this.out.write((this.drawn > 0 ? `\x1b[${this.drawn}A` : '') + rows);
    this.drawn = this.texts.size;
    this.lastRows = rows;
  }
}

/** For pipes and files: a line whenever a row's text changes (rows with nothing to say are skipped). */
export class LineProgress implements ProgressRenderer {
  private readonly printed = new Map<string, string>();

  constructor(private readonly out: Output) {}

  show(lines: readonly ProgressLine[]): void {
    let text = '';
    for (const line of lines) {
      if (line.text === '' || this.printed.get(line.id) === line.text) continue;
      this.printed.set(line.id, line.text);
      text += `${line.id}: ${line.text}\n`;
    }
    if (text !== '') this.out.write(text);
  }
}
