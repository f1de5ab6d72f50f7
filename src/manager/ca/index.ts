/** The cluster CA and node credentials: what the manager, the worker and the CLI wire up. */
export {
  callerIdentity,
  directCallerIdentity,
  FORWARDED_FOR_METADATA,
  forwardedForMetadata,
  requireNode,
  requireRole,
  type AuthenticatedCall,
} from './authorize.js';
export { createNodeCAService, type NodeCAServiceDeps } from './ca-service.js';
export { CaState, caStateFromRootCA, createCaState, joinTokenOf, roleForJoinToken, rootCAOf, rotateJoinToken } from './ca-state.js';
export {
  grpcChannelCredentials,
  grpcServerCredentials,
  joiningChannelCredentials,
  MANAGER_CHANNEL_OPTIONS,
  NodeServerCredentials,
  verifyManagerCertificate,
  type ServerCredentialOptions,
} from './grpc-credentials.js';
export {
  DEFAULT_NODE_CERT_LIFETIME_MS,
  issueNodeCertificate,
  MANAGER_SERVER_NAME,
  NodeCertificateError,
  nodeIdentityOf,
  signNodeCsr,
  type IssueOptions,
  type NodeIdentity,
} from './issuer.js';
export {
  fetchRootCA,
  issueLocalNodeCredentials,
  joinCluster,
  loadNodeCredentials,
  NODE_CREDENTIALS_FILE,
  NodeCredentialsError,
  nodeCredentialsFromPem,
  renewalTime,
  renewIfDue,
  renewNodeCredentials,
  saveNodeCredentials,
  type JoinOptions,
  type NodeCredentials,
  type RenewOptions,
} from './node-credentials.js';
export { isNodeRole, NODE_ROLES, roleFromProto, roleToProto, type NodeRoleName } from './roles.js';
export { certificateDigest, createRootCA, loadRootCA, rootCAFromPem, saveRootCA, type RootCA } from './root-ca.js';
export { INVALID_JOIN_TOKEN, RpcError } from './rpc-error.js';
export { JoinTokenError, newJoinToken, parseJoinToken, type JoinToken } from './tokens.js';
