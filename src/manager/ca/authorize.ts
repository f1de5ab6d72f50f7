/**
 * Who is calling: the node identity in the client certificate the TLS layer verified. grpc-js only
 * reports a peer certificate when it chained to the trusted root (the socket is "authorized"), so
 * an absent identity means the caller presented no certificate or one the root did not sign.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { nodeIdentityOf, NodeCertificateError, type NodeIdentity } from './issuer.js';
import type { NodeRoleName } from './roles.js';
import { permissionDenied, unauthenticated } from './rpc-error.js';

/** What the helpers need of a server call: every grpc-js server call type has it. */
export type AuthenticatedCall = Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext'>;

/** The verified caller's identity, or undefined without a verified node certificate. */
export function callerIdentity(call: AuthenticatedCall): NodeIdentity | undefined {
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  if (!raw) return undefined;
  try {
    return nodeIdentityOf(raw);
  } catch (err) {
    if (err instanceof NodeCertificateError) return undefined;
    throw err;
  }
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
