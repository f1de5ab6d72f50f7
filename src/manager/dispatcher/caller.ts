/**
 * Which node a dispatcher call acts for, and where that node is. The node is the worker its
 * certificate names (or, for a call a follower forwarded, the worker the follower names: see
 * ca/authorize.ts). Its address is the connection's peer, except for a forwarded call, whose peer
 * is the forwarding manager: that manager passes the node's own address in NODE_ADDR_METADATA,
 * believed only from a manager certificate.
 */
import { Metadata, type ServerUnaryCall } from '@grpc/grpc-js';
import { directCallerIdentity, FORWARDED_FOR_METADATA, forwardedForMetadata, requireRole, type AuthenticatedCall } from '../ca/authorize.js';
import type { NodeIdentity } from '../ca/issuer.js';
import { hostOf } from '../../common/host-port.js';

/** Metadata a forwarding manager sets to the node's own address (host, no port). */
export const NODE_ADDR_METADATA = 'shoal-node-addr';

export type DispatcherCall = AuthenticatedCall & Pick<ServerUnaryCall<unknown, unknown>, 'getPeer'> & { readonly metadata: Metadata };

export interface NodeCaller {
  identity: NodeIdentity;
  /** The node's address as the managers should record it. */
  addr: string;
  /** A manager passed this call on for the node. */
  forwarded: boolean;
}

/** The worker a call acts for; throws UNAUTHENTICATED / PERMISSION_DENIED (an RpcError) otherwise. */
export function nodeCaller(call: DispatcherCall): NodeCaller {
  const identity = requireRole(call, 'worker');
  const forwarded = isForwarded(call);
  const claimed = forwarded ? call.metadata.get(NODE_ADDR_METADATA)[0] : undefined;
  return { identity, addr: typeof claimed === 'string' && claimed !== '' ? claimed : hostOf(call.getPeer()), forwarded };
}

/** Whether a manager passed this call on (it names a node it acts for). Needs no certificate check of its own: nodeCaller does that. */
export function isForwarded(call: DispatcherCall): boolean {
  return call.metadata.get(FORWARDED_FOR_METADATA).length > 0 && directCallerIdentity(call)?.role === 'manager';
}

/** The metadata a follower adds to act for `caller` on the leader. */
export function forwardingMetadata(caller: NodeCaller): Metadata {
  const metadata = forwardedForMetadata(caller.identity);
  metadata.set(NODE_ADDR_METADATA, caller.addr);
  return metadata;
}
