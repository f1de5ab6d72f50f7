/**
 * A node's own address on each network it takes part in: the agent puts it on the network's bridge
 * there and answers DNS on it. A node keeps an attachment while any task on it that may still run
 * (observed state up to RUNNING) is on that network, and loses it after the last one stops.
 *
 * The ingress network is the exception: the routing mesh answers published ports on every node,
 * through a sandbox that needs the node's own ingress address whether or not a task runs there. So
 * while any service publishes ingress ports, every node that is not DOWN holds an ingress
 * attachment; it is released when no service publishes any more, the node goes down, or the node
 * is removed (releases.ts).
 */
import { NodeState, TaskState, type Node, type Task } from '../../../proto/gen/objects.js';
import type { AllocatorState } from './allocator-state.js';

export function neededNetworks(tasks: readonly Task[]): Set<string> {
  const needed = new Set<string>();
  for (const task of tasks) {
    const state = task.status?.state ?? TaskState.TASK_STATE_NEW;
    if (state > TaskState.TASK_STATE_RUNNING) continue;
    for (const n of task.networks) needed.add(n.networkId);
  }
  return needed;
}

/** Whether the node takes part in the routing mesh when services publish ingress ports. */
export function inMesh(node: Node): boolean {
  return node.status?.state !== NodeState.NODE_STATE_DOWN;
}

/**
 * The node with attachments added for networks it now needs and dropped for those it no longer
 * does (their addresses are released once that is committed), or undefined when nothing changes.
 * `meshIngressId`: the ingress network's id while any service publishes ingress ports, else
 * undefined. Throws AllocationError, having taken nothing, when a network has no free address.
 */
export function reconcileAttachments(
  state: AllocatorState,
  node: Node,
  tasks: readonly Task[],
  meshIngressId?: string,
): { node: Node; undo: () => void } | undefined {
  const needed = neededNetworks(tasks);
  if (meshIngressId !== undefined && inMesh(node)) needed.add(meshIngressId);
  const kept = node.attachments.filter((a) => needed.has(a.networkId));
  const missing = [...needed].filter((id) => !kept.some((a) => a.networkId === id) && state.hasNetwork(id));
  if (missing.length === 0 && kept.length === node.attachments.length) return undefined;
  const added: { networkId: string; address: string }[] = [];
  const undo = () => {
    for (const a of added) state.releaseAddress(a.networkId, a.address);
  };
  try {
    for (const networkId of missing) added.push({ networkId, address: state.allocateAddress(networkId) });
  } catch (err) {
    undo();
    throw err;
  }
  const attachments = [...kept, ...added.map((a) => ({ ...a, aliases: [] }))];
  return { node: { ...node, attachments }, undo };
}
