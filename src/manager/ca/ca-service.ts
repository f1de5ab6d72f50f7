/**
 * The NodeCA gRPC service (proto/ca.proto) a manager serves on its TLS port: hands out the root
 * certificate, issues node certificates for join tokens, and renews them for nodes that prove
 * who they are with their current certificate.
 *
 * The CA's state is read through `caState` on every call, so a rotated token stops working as soon
 * as the new state is visible, on every manager.
 */
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { KeyObject } from 'node:crypto';
import type { CaState, IssueRequest, IssueResponse, NodeCAServer, RenewRequest } from '../../../proto/gen/ca.js';
import { newId } from '../../common/ids.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { CsrError, parseCsr } from '../../common/pki/csr.js';
import { requireNode } from './authorize.js';
import { roleForJoinToken, rootCAOf } from './ca-state.js';
import { issueNodeCertificate, NodeCertificateError, type NodeIdentity } from './issuer.js';
import { isNodeRole, type NodeRoleName } from './roles.js';
import { INVALID_JOIN_TOKEN, invalidArgument, permissionDenied, RpcError } from './rpc-error.js';
import { JoinTokenError } from './tokens.js';
import { isHostPort } from '../../common/host-port.js';

type MaybePromise<T> = T | Promise<T>;

export interface NodeCAServiceDeps {
  /** The CA's current state, e.g. read from the cluster object. */
  caState: () => MaybePromise<CaState>;
  /** False for a node that was removed from the cluster: it gets no new certificate. */
  isNodeActive: (nodeId: string) => MaybePromise<boolean>;
  /**
   * Called for a new node before its certificate is issued (e.g. to create its Node object and,
   * for a manager, add it to Raft at `raftAddress`); a rejection refuses the join, with the
   * error's gRPC status if it carries one.
   */
  onNodeJoining?: (identity: NodeIdentity, joining: { raftAddress: string; hostname: string }) => MaybePromise<void>;
  /**
   * The role a renewing node should now have, for promotion and demotion; undefined keeps the
   * role in its current certificate. Without this hook a renewal always keeps the role.
   */
  desiredRole?: (nodeId: string) => MaybePromise<NodeRoleName | undefined>;
  /** Node certificate lifetime, read at each signing (the cluster's setting may change); 90 days when undefined. */
  certificateLifetimeMs?: () => number | undefined;
  /** Wall clock in ms since the epoch; Date.now by default. */
  now?: () => number;
  newNodeId?: () => string;
  logger?: Logger;
}

export function createNodeCAService(deps: NodeCAServiceDeps): NodeCAServer {
  const log = (deps.logger ?? silentLogger).child({ component: 'ca' });
  const now = deps.now ?? Date.now;
  const newNodeId = deps.newNodeId ?? newId;

  function sign(state: CaState, publicKey: KeyObject, identity: NodeIdentity, addresses: string[]): IssueResponse {
    let certificatePem: string;
    try {
      certificatePem = issueNodeCertificate(rootCAOf(state), publicKey, identity, { lifetimeMs: deps.certificateLifetimeMs?.(), now: now(), addresses });
    } catch (err) {
      if (err instanceof NodeCertificateError) throw invalidArgument(err.message);
      throw err;
    }
    return { nodeId: identity.nodeId, role: identity.role, certificatePem, rootCaPem: state.rootCaCertPem };
  }

  async function issue(request: IssueRequest): Promise<IssueResponse> {
    const requested = request.requestedRole;
    if (requested !== '' && !isNodeRole(requested)) throw invalidArgument(`requested role must be "worker" or "manager", not ${JSON.stringify(requested)}`);
    const state = await deps.caState();
    let role: NodeRoleName | undefined;
    try {
      role = roleForJoinToken(state, request.token);
    } catch (err) {
      if (err instanceof JoinTokenError) throw invalidArgument(err.message);
      throw err;
    }
    if (role === undefined) throw permissionDenied(INVALID_JOIN_TOKEN);
    if (requested !== '' && requested !== role) {
      throw permissionDenied(`this is a ${role} join token; a ${requested} cannot join with it`);
    }
    if (role === 'manager' && !isHostPort(request.raftAddress)) {
      throw invalidArgument(`a joining manager must give its Raft address as host:port, not ${JSON.stringify(request.raftAddress)}`);
    }
    const identity: NodeIdentity = { nodeId: newNodeId(), role, clusterId: state.clusterId };
    // Signed before the node is recorded, so that a bad CSR or address leaves no trace; a
    // certificate that is never handed out (the hook refused) is harmless.
    const response = sign(state, requestedKey(request.csrPem), identity, request.addresses);
    await deps.onNodeJoining?.(identity, { raftAddress: role === 'manager' ? request.raftAddress : '', hostname: request.hostname });
    log.info({ nodeId: identity.nodeId, role }, 'issued a certificate to a joining node');
    return response;
  }

  async function renew(call: ServerUnaryCall<RenewRequest, IssueResponse>): Promise<IssueResponse> {
    const caller = requireNode(call);
    const state = await deps.caState();
    if (caller.clusterId !== state.clusterId) throw permissionDenied(`node ${caller.nodeId} belongs to cluster ${caller.clusterId}, not ${state.clusterId}`);
    if (!(await deps.isNodeActive(caller.nodeId))) throw permissionDenied(`node ${caller.nodeId} has been removed from the cluster; join it again`);
    const role = (await deps.desiredRole?.(caller.nodeId)) ?? caller.role;
    const response = sign(state, requestedKey(call.request.csrPem), { ...caller, role }, call.request.addresses);
    log.info({ nodeId: caller.nodeId, role, previousRole: caller.role }, 'renewed a node certificate');
    return response;
  }

  return {
    getRootCaCertificate: unary(log, async () => ({ certificatePem: (await deps.caState()).rootCaCertPem })),
    issueNodeCertificate: unary(log, (call) => issue(call.request)),
    renewNodeCertificate: unary(log, renew),
  };
}

/** The key a CSR asks to certify, once its signature is verified; INVALID_ARGUMENT otherwise. */
function requestedKey(csrPem: string): KeyObject {
  try {
    return parseCsr(csrPem).publicKey;
  } catch (err) {
    if (err instanceof CsrError) throw invalidArgument(`invalid certificate request: ${err.message}`);
    throw err;
  }
}

/** Adapts an async handler to grpc-js: refusals keep their status, anything else is INTERNAL. */
function unary<Req, Res>(log: Logger, handler: (call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    handler(call).then(
      (response) => callback(null, response),
      (err: unknown) => {
        if (err instanceof RpcError || isStatusError(err)) {
          callback(err);
          return;
        }
        log.error({ err }, 'CA call failed');
        callback({ code: status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
      },
    );
  };
}

function isStatusError(err: unknown): err is { code: status; details: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && typeof (err as { details?: unknown }).details === 'string';
}
