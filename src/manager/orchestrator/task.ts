/**
 * What every orchestration loop says about tasks: how a new one is made, and the predicates the
 * loops agree on (runnable, finished, dirty, up). Store objects are never mutated here: changes are
 * written as copies.
 */
import {
  EndpointSpec,
  HealthState,
  TaskSpec,
  TaskState,
  type Service,
  type Task,
} from '../../../proto/gen/objects.js';
import { newId } from '../../common/ids.js';
import { needsNetworkAllocation } from '../allocator/needs-allocation.js';
import { ALLOCATING_MESSAGE } from '../allocator/task-allocation.js';

/** Where a new task belongs: a replicated slot, or (global services) a node. */
export type TaskPlacement = { slot: number } | { nodeId: string };

export interface NewTaskOptions {
  /** Wall-clock ms for the initial status timestamp. */
  now: number;
  /** RUNNING unless the task must wait (READY: a restart delay or a predecessor still stopping). */
  desiredState?: TaskState;
}

/**
 * A new task of `service` at its current spec. The task spec object is shared with the service:
 * store objects are immutable by contract, and tasks of one spec version carry the same spec.
 * A task of a service with networks or ingress ports starts NEW: the allocator gives it its
 * addresses and moves it to PENDING. Any other starts PENDING, straight for the scheduler.
 */
export function newTask(service: Service, placement: TaskPlacement, options: NewTaskOptions): Task {
  return {
    meta: { id: newId(), version: 0, createdAt: 0, updatedAt: 0 },
    serviceId: service.meta?.id ?? '',
    slot: 'slot' in placement ? placement.slot : 0,
    nodeId: 'nodeId' in placement ? placement.nodeId : '',
    spec: service.spec?.task,
    specVersion: service.specVersion,
    serviceAnnotations: {
      name: service.spec?.annotations?.name ?? '',
      labels: { ...service.spec?.annotations?.labels },
    },
    desiredState: options.desiredState ?? TaskState.TASK_STATE_RUNNING,
    status: {
      ...(needsNetworkAllocation(service)
        ? { state: TaskState.TASK_STATE_NEW, message: ALLOCATING_MESSAGE }
        : { state: TaskState.TASK_STATE_PENDING, message: 'pending task scheduling' }),
      timestamp: options.now,
      err: '',
      exitCode: 0,
      health: HealthState.HEALTH_STATE_NONE,
      containerId: '',
      pid: 0,
    },
    networks: [],
    // The allocator refreshes it for tasks it sees; the others keep the service's (host-mode
    // ports, which the scheduler and the worker read from the task).
    endpoint: service.endpoint,
  };
}

export function taskId(task: Task): string {
  return task.meta?.id ?? '';
}

export function observedState(task: Task): TaskState {
  return task.status?.state ?? TaskState.TASK_STATE_NEW;
}

/** The managers still want it to run: it occupies its slot (or node, for global services). */
export function isRunnable(task: Task): boolean {
  return task.desiredState <= TaskState.TASK_STATE_RUNNING;
}

/** The worker reported that it stopped, one way or another. */
export function isFinished(task: Task): boolean {
  return observedState(task) > TaskState.TASK_STATE_RUNNING;
}

/** Ended by itself rather than because a manager asked: what restart policies count. */
export function endedOnItsOwn(task: Task): boolean {
  const state = observedState(task);
  return (
    state === TaskState.TASK_STATE_COMPLETE ||
    state === TaskState.TASK_STATE_FAILED ||
    state === TaskState.TASK_STATE_REJECTED ||
    state === TaskState.TASK_STATE_ORPHANED
  );
}

/** Placed on a node and not yet reported stopped: the worker may still be running it. */
export function mayBeRunningOnNode(task: Task): boolean {
  const state = observedState(task);
  return task.nodeId !== '' && state >= TaskState.TASK_STATE_ASSIGNED && state <= TaskState.TASK_STATE_RUNNING;
}

/** A copy of `task` that the managers want shut down. */
export function withDesiredState(task: Task, desiredState: TaskState): Task {
  return { ...task, desiredState };
}

export function isGlobal(service: Service): boolean {
  return service.spec?.mode?.$case === 'global';
}

export function isReplicated(service: Service): boolean {
  return service.spec?.mode?.$case === 'replicated';
}

export function replicaCount(service: Service): number {
  const mode = service.spec?.mode;
  return mode?.$case === 'replicated' ? mode.replicated.replicas : 0;
}

/**
 * Whether the spec itself defines a healthcheck. Not whether one runs: with an empty test the
 * image's own HEALTHCHECK may, which only the worker knows (it reports the health it finds).
 */
export function hasHealthcheck(spec: TaskSpec | undefined): boolean {
  const test = spec?.container?.healthcheck?.test ?? [];
  return test.length > 0 && test[0] !== 'NONE';
}

/**
 * Started and healthy, or started without a healthcheck: what an update waits for before moving
 * on. The worker's reported health decides, not the spec, since an image may bring its own check:
 * NONE (no check runs) or HEALTHY is up; STARTING (no verdict yet, e.g. a worker that restarted
 * and checks again) and UNHEALTHY are not.
 */
export function isUp(task: Task): boolean {
  if (observedState(task) !== TaskState.TASK_STATE_RUNNING) return false;
  const health = task.status?.health ?? HealthState.HEALTH_STATE_NONE;
  return health === HealthState.HEALTH_STATE_NONE || health === HealthState.HEALTH_STATE_HEALTHY;
}

/** Newest first: by creation time, then id, so that every manager orders a slot's history alike. */
export function compareNewestFirst(a: Task, b: Task): number {
  const byTime = (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0);
  if (byTime !== 0) return byTime;
  const ia = taskId(a);
  const ib = taskId(b);
  return ia < ib ? 1 : ia > ib ? -1 : 0;
}

export function newest(tasks: readonly Task[]): Task | undefined {
  let best: Task | undefined;
  for (const t of tasks) if (best === undefined || compareNewestFirst(t, best) < 0) best = t;
  return best;
}

/**
 * Decides whether tasks differ from their service's current spec. A task is dirty when it was made
 * from another spec version AND its task spec actually differs (a scale or a rename bumps the
 * version without touching tasks), or, as in Docker Swarm, when the endpoint it was allocated for
 * differs from the service's (published ports added or removed change which networks a task must
 * join). Tasks of one spec version share their spec, so that comparison is made once per version;
 * the endpoint, a few bytes, once per task.
 */
export class DirtyCheck {
  private readonly byVersion = new Map<number, boolean>();
  private current: Uint8Array | undefined;
  private currentEndpoint: Uint8Array | undefined;

  constructor(private readonly service: Service) {}

  isDirty(task: Task): boolean {
    if (task.specVersion === this.service.specVersion) return false;
    let dirty = this.byVersion.get(task.specVersion);
    if (dirty === undefined) {
      this.current ??= encodeSpec(this.service.spec?.task);
      dirty = !bytesEqual(encodeSpec(task.spec), this.current);
      this.byVersion.set(task.specVersion, dirty);
    }
    if (dirty) return true;
    this.currentEndpoint ??= encodeEndpointSpec(this.service.spec?.endpoint);
    return !bytesEqual(encodeEndpointSpec(task.endpoint?.spec), this.currentEndpoint);
  }
}

/** One-off form of DirtyCheck. */
export function isDirty(task: Task, service: Service): boolean {
  return new DirtyCheck(service).isDirty(task);
}

function encodeSpec(spec: TaskSpec | undefined): Uint8Array {
  return TaskSpec.encode(spec ?? TaskSpec.fromPartial({})).finish();
}

/** No endpoint, and the default one (VIP mode, no ports), encode alike: both are empty. */
function encodeEndpointSpec(spec: EndpointSpec | undefined): Uint8Array {
  return EndpointSpec.encode(spec ?? EndpointSpec.fromPartial({})).finish();
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
