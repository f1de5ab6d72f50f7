/**
 * Which slots a replicated service gives up when it has more than its replicas: slots whose task is
 * not running yet go first (cheapest to lose), then slots on the busiest nodes (most tasks of this
 * service, then most runnable tasks overall), so that what remains is spread out. Counts are
 * updated as slots are chosen, so a scale-down evens nodes out rather than emptying one.
 */
import { TaskState, type Task } from '../../../proto/gen/objects.js';
import { Heap } from '../../scheduler/heap.js';
import type { Slot } from './slots.js';
import { observedState } from './task.js';

interface NodeBucket {
  nodeId: string;
  /** This node's candidate slots, best to remove first. */
  slots: Slot[];
  next: number;
  serviceTasks: number;
  totalTasks: number;
}

/**
 * Picks `count` of the `live` slots (slots with a runnable task). `runnableOnNode` says how many
 * runnable tasks of any service a node has.
 */
export function chooseSlotsToRemove(live: readonly Slot[], count: number, runnableOnNode: (nodeId: string) => number): Slot[] {
  const buckets = new Map<string, NodeBucket>();
  for (const slot of live) {
    const nodeId = slotNode(slot);
    let bucket = buckets.get(nodeId);
    if (bucket === undefined) {
      bucket = { nodeId, slots: [], next: 0, serviceTasks: 0, totalTasks: nodeId === '' ? 0 : runnableOnNode(nodeId) };
      buckets.set(nodeId, bucket);
    }
    bucket.slots.push(slot);
    // An unplaced task weighs on no node.
    if (nodeId !== '') bucket.serviceTasks += slot.runnable.length;
  }
  for (const bucket of buckets.values()) bucket.slots.sort(compareWithinNode);

  const heap = new Heap<NodeBucket>(removeFirst);
  for (const bucket of buckets.values()) heap.push(bucket);
  const chosen: Slot[] = [];
  while (chosen.length < count) {
    const bucket = heap.pop();
    if (bucket === undefined) break;
    const slot = bucket.slots[bucket.next++]!;
    chosen.push(slot);
    if (bucket.nodeId !== '') {
      bucket.serviceTasks -= slot.runnable.length;
      bucket.totalTasks -= slot.runnable.length;
    }
    if (bucket.next < bucket.slots.length) heap.push(bucket);
  }
  return chosen;
}

function slotNode(slot: Slot): string {
  return slot.runnable.find((t) => t.nodeId !== '')?.nodeId ?? '';
}

function isRunning(slot: Slot): boolean {
  return slot.runnable.some((t: Task) => observedState(t) === TaskState.TASK_STATE_RUNNING);
}

/** Within a node: not running before running, then the highest slot number. */
function compareWithinNode(a: Slot, b: Slot): number {
  const byRunning = Number(isRunning(a)) - Number(isRunning(b));
  if (byRunning !== 0) return byRunning;
  return Number(b.key) - Number(a.key);
}

function headIsRunning(bucket: NodeBucket): boolean {
  return isRunning(bucket.slots[bucket.next]!);
}

/** Across nodes: a not-running slot first, then the busiest node; node id breaks ties. */
function removeFirst(a: NodeBucket, b: NodeBucket): boolean {
  const ra = headIsRunning(a);
  const rb = headIsRunning(b);
  if (ra !== rb) return !ra;
  if (a.serviceTasks !== b.serviceTasks) return a.serviceTasks > b.serviceTasks;
  if (a.totalTasks !== b.totalTasks) return a.totalTasks > b.totalTasks;
  return a.nodeId < b.nodeId;
}
