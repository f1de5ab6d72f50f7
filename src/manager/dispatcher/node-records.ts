/**
 * The dispatcher's writes to Node objects: registration when a session opens, and DOWN when a node
 * stops heartbeating or its session ends. Pure transaction bodies; the dispatcher runs them.
 */
import {
  Node,
  NodeAvailability,
  NodeRole,
  NodeState,
  type NodeDescription,
} from '../../../proto/gen/objects.js';
import type { WriteTx } from '../../store/types.js';

export class UnknownNodeError extends Error {
  constructor(readonly nodeId: string) {
    super(`node ${nodeId} is not part of the cluster (it was removed); join again as a new node`);
    this.name = 'UnknownNodeError';
  }
}

export interface Registration {
  /** The id the node asked for; empty for a new node. */
  requestedId: string;
  /** The id to give a new node. */
  newId: string;
  description: NodeDescription | undefined;
  addr: string;
}

/** Creates the node, or marks a known one READY with its new description; returns the node's id. */
export function registerNode(tx: WriteTx, r: Registration): string {
  const ready = { state: NodeState.NODE_STATE_READY, message: '', addr: r.addr };
  if (r.requestedId === '') {
    tx.nodes.create(
      Node.fromPartial({
        meta: { id: r.newId },
        spec: {
          annotations: { name: '', labels: {} },
          desiredRole: NodeRole.NODE_ROLE_WORKER,
          availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
        },
        description: r.description,
        status: ready,
        role: NodeRole.NODE_ROLE_WORKER,
      }),
    );
    return r.newId;
  }
  const known = tx.nodes.get(r.requestedId);
  if (!known) throw new UnknownNodeError(r.requestedId);
  tx.nodes.update({ ...known, description: r.description ?? known.description, status: ready });
  return r.requestedId;
}

/** Marks the node DOWN with `message`, unless it is gone or already down. */
export function markNodeDown(tx: WriteTx, nodeId: string, message: string): void {
  const node = tx.nodes.get(nodeId);
  if (!node || node.status?.state === NodeState.NODE_STATE_DOWN) return;
  tx.nodes.update({ ...node, status: { state: NodeState.NODE_STATE_DOWN, message, addr: node.status?.addr ?? '' } });
}
