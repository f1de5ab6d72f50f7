/**
 * What the cluster records when the CA admits a node (NodeCA's onNodeJoining, on the leader): its
 * Node object, and for a manager its place in Raft as a non-voter at the Raft address it gave. The
 * role manager gives a caught-up non-voter whose desired role is manager its vote.
 *
 * A Node object exists from the join on, so the dispatcher knows every node that may open a
 * session, and `node rm` has something to remove even for a node that never connected.
 */
import { hostname as osHostname } from 'node:os';
import { Node, NodeAvailability, NodeRole, NodeState } from '../../proto/gen/objects.js';
import type { Store } from '../store/types.js';
import type { NodeIdentity } from './ca/index.js';

export interface AdmissionDeps {
  store: Store;
  /** Adds a server to Raft without a vote (RaftNode.addNonvoter). */
  addNonvoter: (id: string, address: string) => Promise<unknown>;
}

export async function admitNode(deps: AdmissionDeps, identity: NodeIdentity, joining: { raftAddress: string; hostname: string }): Promise<void> {
  const manager = identity.role === 'manager';
  const message = manager ? '' : 'joined; waiting for its first session';
  await deps.store.update((tx) => {
    tx.nodes.create(newNode(identity.nodeId, manager, joining.hostname, message));
  });
  if (manager) await deps.addNonvoter(identity.nodeId, joining.raftAddress);
}

/**
 * The Node of the manager that creates the cluster (`--init`): already a voter, and described
 * here, since a manager has no dispatcher session that would describe it.
 */
export function founderNode(nodeId: string): Node {
  return { ...newNode(nodeId, true, osHostname(), ''), role: NodeRole.NODE_ROLE_MANAGER };
}

function newNode(id: string, manager: boolean, hostname: string, message: string): Node {
  const role = manager ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER;
  return Node.fromPartial({
    meta: { id },
    spec: { annotations: { name: '', labels: {} }, desiredRole: role, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
    description: { hostname },
    // Observed role: the role manager makes it MANAGER once the node holds a vote.
    role: NodeRole.NODE_ROLE_WORKER,
    status: { state: NodeState.NODE_STATE_UNKNOWN, message, addr: '' },
  });
}
