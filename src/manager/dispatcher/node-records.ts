/**
 * The dispatcher's writes to Node objects: registration when a session opens, and DOWN when a node
 * stops heartbeating. Pure transaction bodies; the dispatcher runs them. Nodes are created when
 * they join (the CA's onNodeJoining), never here: a node the store does not hold is refused.
 */
import { NodeState, type NodeDescription } from '../../../proto/gen/objects.js';
import type { ReadTx, WriteTx } from '../../store/types.js';

/** The node has no Node object: it was removed, or never joined. Final for the node (the agent stops). */
export class UnknownNodeError extends Error {
  constructor(
    readonly nodeId: string,
    readonly removed: boolean,
  ) {
    super(removed ? removedMessage(nodeId) : `node ${nodeId} is not part of the cluster`);
    this.name = 'UnknownNodeError';
  }
}

/** What the agent recognizes as final (src/agent/session.ts matches "was removed"). */
export function removedMessage(nodeId: string): string {
  return `node ${nodeId} was removed from the cluster`;
}

export interface Registration {
  nodeId: string;
  description: NodeDescription | undefined;
  addr: string;
}

/** Why the node may not open a session, or undefined if it may. */
export function unknownNode(tx: ReadTx, nodeId: string): UnknownNodeError | undefined {
  if (tx.nodes.get(nodeId)) return undefined;
  const removedAt = tx.clusters.all()[0]?.removedNodes?.removedAt ?? {};
  return new UnknownNodeError(nodeId, Object.hasOwn(removedAt, nodeId));
}

/** Marks the node READY at `addr` with the description it sent (hostname, platform, resources, labels). */
export function registerNode(tx: WriteTx, r: Registration): void {
  const refusal = unknownNode(tx, r.nodeId);
  if (refusal) throw refusal;
  const known = tx.nodes.get(r.nodeId)!;
  const ready = { state: NodeState.NODE_STATE_READY, message: '', addr: r.addr };
  tx.nodes.update({ ...known, description: r.description ?? known.description, status: ready });
}

/** Marks the node DOWN with `message`, unless it is gone or already down. */
export function markNodeDown(tx: WriteTx, nodeId: string, message: string): void {
  const node = tx.nodes.get(nodeId);
  if (!node || node.status?.state === NodeState.NODE_STATE_DOWN) return;
  tx.nodes.update({ ...node, status: { state: NodeState.NODE_STATE_DOWN, message, addr: node.status?.addr ?? '' } });
}
