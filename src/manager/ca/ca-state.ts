/**
 * The CA's whole state as one proto message (CaState in proto/ca.proto): the root certificate and
 * key and the two join tokens. Being a proto message, it can be stored as is in the replicated
 * cluster object, so that whichever manager leads can sign and check tokens. Functions here never
 * mutate a state; they return the new one for the caller to store.
 */
import { CaState } from '../../../proto/gen/ca.js';
import { createRootCA, rootCAFromPem, type RootCA } from './root-ca.js';
import type { NodeRoleName } from './roles.js';
import { joinTokenMatches, newJoinToken, parseJoinToken } from './tokens.js';

export { CaState };

/** A new CA for the cluster `clusterId`: a fresh root and fresh worker and manager tokens. */
export function createCaState(clusterId: string, now = Date.now()): CaState {
  return caStateFromRootCA(clusterId, createRootCA(now));
}

/** A CA state around an existing root (e.g. one loaded with loadRootCA), with fresh tokens. */
export function caStateFromRootCA(clusterId: string, root: RootCA): CaState {
  if (clusterId === '') throw new Error('a CA state needs a cluster id');
  return CaState.fromPartial({
    clusterId,
    rootCaCertPem: root.certPem,
    rootCaKeyPem: root.keyPem,
    workerJoinToken: newJoinToken(root.digest),
    managerJoinToken: newJoinToken(root.digest),
  });
}

let cached: { certPem: string; keyPem: string; root: RootCA } | undefined;

/**
 * The parsed root of a state. The CA reads its state on every call, and parsing the key and
 * certificate each time would be wasted work, so the last one is kept.
 */
export function rootCAOf(state: CaState): RootCA {
  if (cached?.certPem !== state.rootCaCertPem || cached.keyPem !== state.rootCaKeyPem) {
    cached = { certPem: state.rootCaCertPem, keyPem: state.rootCaKeyPem, root: rootCAFromPem(state.rootCaCertPem, state.rootCaKeyPem) };
  }
  return cached.root;
}

export function joinTokenOf(state: CaState, role: NodeRoleName): string {
  return role === 'manager' ? state.managerJoinToken : state.workerJoinToken;
}

/**
 * The role `token` admits, or undefined when it is not one of the current tokens (wrong secret,
 * rotated away, or pinning another CA). Throws JoinTokenError for a malformed token. Both
 * secrets are always compared, so timing does not reveal which role a guess came close to.
 */
export function roleForJoinToken(state: CaState, token: string): NodeRoleName | undefined {
  parseJoinToken(token);
  const isWorker = joinTokenMatches(token, state.workerJoinToken);
  const isManager = joinTokenMatches(token, state.managerJoinToken);
  if (isManager) return 'manager';
  if (isWorker) return 'worker';
  return undefined;
}

/** The state with a new secret for `role`; the old token of that role stops working once stored. */
export function rotateJoinToken(state: CaState, role: NodeRoleName): CaState {
  const token = newJoinToken(rootCAOf(state).digest);
  return CaState.fromPartial({ ...state, ...(role === 'manager' ? { managerJoinToken: token } : { workerJoinToken: token }) });
}
