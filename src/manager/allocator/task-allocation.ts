/**
 * What a NEW task gets before it may be scheduled: an address on each network of its spec (and on
 * the ingress network when its service publishes ingress ports), the service's endpoint, and the
 * move to PENDING, where the scheduler takes it.
 */
import { TaskState, type NetworkAttachment, type Service, type Task } from '../../../proto/gen/objects.js';
import type { AllocatorState } from './allocator-state.js';
import { publishesIngress } from './needs-allocation.js';

export const ALLOCATING_MESSAGE = 'allocating network addresses';

export function taskNetworkIds(task: Task, service: Service | undefined, ingressNetworkId: string | undefined): string[] {
  const ids = (task.spec?.networks ?? []).map((n) => n.target);
  if (ingressNetworkId !== undefined && publishesIngress(service?.spec)) ids.push(ingressNetworkId);
  return [...new Set(ids)];
}

/** The task allocated and PENDING; throws AllocationError (having taken nothing) when an address is missing. */
export function allocateTask(state: AllocatorState, task: Task, service: Service | undefined, ingressNetworkId: string | undefined, now: number): { task: Task; undo: () => void } {
  const networks: NetworkAttachment[] = [];
  const undo = () => {
    for (const n of networks) state.releaseAddress(n.networkId, n.address);
  };
  try {
    for (const networkId of taskNetworkIds(task, service, ingressNetworkId)) {
      const aliases = task.spec?.networks.find((n) => n.target === networkId)?.aliases ?? [];
      networks.push({ networkId, address: state.allocateAddress(networkId), aliases });
    }
  } catch (err) {
    undo();
    throw err;
  }
  const status = { ...task.status!, state: TaskState.TASK_STATE_PENDING, timestamp: now, message: 'pending task scheduling' };
  return { task: { ...task, networks, endpoint: service?.endpoint, status }, undo };
}
