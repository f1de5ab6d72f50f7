/**
 * Who is calling: the node identity in the client certificate the TLS layer verified. grpc-js only
 * reports a peer certificate when it chained to the trusted root (the socket is "authorized"), so
 * an absent identity means the caller presented no certificate or one the root did not sign.
 *
 * A follower that passes a node's call on to the leader calls with its own (manager) certificate
 * and names the node it acts for in FORWARDED_FOR_METADATA, as swarmkit's raft proxy does. That
 * claim is believed only from a manager of the same cluster: a worker cannot speak for anyone.
 */
import { Metadata, type ServerUnaryCall } from '@grpc/grpc-js';
import { nodeIdentityOf, NodeCertificateError, type NodeIdentity } from './issuer.js';
import { isNodeRole, type NodeRoleName } from './roles.js';
import { permissionDenied, unauthenticated } from './rpc-error.js';

/** What the helpers need of a server call: every grpc-js server call type has it. */
export type AuthenticatedCall = Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext'> & {
  readonly metadata?: Metadata;
};

/** Metadata a forwarding manager sets to the identity of the node it acts for (JSON). */
export const FORWARDED_FOR_METADATA = 'shoal-forwarded-for';

/** The certificate-verified identity of whoever opened the connection, forwarding or not. */
export function directCallerIdentity(call: AuthenticatedCall): NodeIdentity | undefined {
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  if (!raw) return undefined;
  try {
    return nodeIdentityOf(raw);
  } catch (err) {
    if (err instanceof NodeCertificateError) return undefined;
    throw err;
  }
}

/**
 * The verified caller's identity, or undefined without a verified node certificate. For a call a
 * manager forwarded, the node it forwarded for; a forwarding claim from anyone else is refused.
 */
export function callerIdentity(call: AuthenticatedCall): NodeIdentity | undefined {
  const direct = directCallerIdentity(call);
  const claim = call.metadata?.get(FORWARDED_FOR_METADATA)[0];
  if (claim === undefined || direct === undefined) return direct;
  if (direct.role !== 'manager') throw permissionDenied(`node ${direct.nodeId} has a ${direct.role} certificate and may not act for another node`);
  const forwarded = parseForwardedFor(String(claim));
  if (forwarded.clusterId !== direct.clusterId) throw permissionDenied(`a call forwarded by ${direct.nodeId} names a node of another cluster`);
  return forwarded;
}

/** Metadata that makes a call on another manager act for `identity` (see callerIdentity). */
export function forwardedForMetadata(identity: NodeIdentity, metadata = new Metadata()): Metadata {
  metadata.set(FORWARDED_FOR_METADATA, JSON.stringify({ nodeId: identity.nodeId, role: identity.role, clusterId: identity.clusterId }));
  return metadata;
}

function parseForwardedFor(text: string): NodeIdentity {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const { nodeId, role, clusterId } = (value ?? {}) as Record<string, unknown>;
  if (typeof nodeId !== 'string' || nodeId === '' || typeof clusterId !== 'string' || typeof role !== 'string' || !isNodeRole(role)) {
    throw unauthenticated(`malformed ${FORWARDED_FOR_METADATA} metadata`);
  }
  return { nodeId, role, clusterId };
}

/** The caller's identity; UNAUTHENTICATED when it has no verified node certificate. */
export function requireNode(call: AuthenticatedCall): NodeIdentity {
  const identity = callerIdentity(call);
  if (!identity) throw unauthenticated('this call needs a valid node certificate from this cluster (mutual TLS)');
  return identity;
}

/**
 * The caller's identity if its certificate has `role` (or one of `role`); PERMISSION_DENIED
 * naming the node and both roles otherwise.
 */
export function requireRole(call: AuthenticatedCall, role: NodeRoleName | readonly NodeRoleName[]): NodeIdentity {
  const identity = requireNode(call);
  const allowed: readonly NodeRoleName[] = typeof role === 'string' ? [role] : role;
  if (!allowed.includes(identity.role)) {
    throw permissionDenied(`node ${identity.nodeId} has a ${identity.role} certificate; this call needs a ${allowed.join(' or ')} certificate`);
  }
  return identity;
}
