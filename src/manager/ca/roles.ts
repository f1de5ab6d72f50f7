/** Node roles as the PKI writes them: the OU of a node certificate and the role in CA messages. */
import { NodeRole } from '../../../proto/gen/objects.js';

export type NodeRoleName = 'worker' | 'manager';

export const NODE_ROLES: readonly NodeRoleName[] = ['worker', 'manager'];

export function isNodeRole(value: string | undefined): value is NodeRoleName {
  return (NODE_ROLES as readonly (string | undefined)[]).includes(value);
}

/** The store's enum for a role, for code that writes Node objects. */
export function roleToProto(role: NodeRoleName): NodeRole {
  return role === 'manager' ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER;
}

export function roleFromProto(role: NodeRole): NodeRoleName {
  return role === NodeRole.NODE_ROLE_MANAGER ? 'manager' : 'worker';
}
