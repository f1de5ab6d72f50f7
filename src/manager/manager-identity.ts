/**
 * A manager's own identity: the node credentials (key, certificate naming its node id and the
 * manager role, cluster root) it speaks mutual TLS with, kept in its state directory.
 *
 * - `--init` on an empty state directory creates the cluster's CA here, signs this manager's
 *   certificate with it, and leaves the CA state in `cluster-ca.pb` until the first leader has
 *   stored it in the Cluster object (after which the file is removed: the key then lives only in
 *   the replicated store, as swarmkit keeps it).
 * - `--join ADDR --token T` on an empty state directory joins through NodeCA like any node,
 *   giving its Raft address so the leader adds it to Raft as a non-voter.
 * - Otherwise the saved credentials are used; their node id is this manager's Raft id.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CaState } from '../../proto/gen/ca.js';
import { writeFileAtomicSync } from '../common/atomic-file.js';
import { hostOf } from '../common/host-port.js';
import { newId } from '../common/ids.js';
import { createCaState, issueLocalNodeCredentials, joinCluster, loadNodeCredentials, saveNodeCredentials, type NodeCredentials } from './ca/index.js';

export interface ManagerIdentityOptions {
  stateDir: string;
  init: boolean;
  join?: { address: string; token: string };
  /** The id to give this manager at --init; default a new random id. */
  nodeId?: string;
  /** host:port other managers reach this one at. */
  raftAddress: string;
  /** How long the first manager's own certificate is valid (the cluster's setting). */
  certLifetimeMs?: number;
}

export interface ManagerIdentity {
  credentials: NodeCredentials;
  /** The CA this manager created at --init, until it is in the Cluster object. */
  initCa: CaState | undefined;
}

const INIT_CA_FILE = 'cluster-ca.pb';

/** Node ids are what Raft and the CLI name a manager by: keep them short and shell-safe. */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class ManagerIdentityError extends Error {}

export async function loadOrCreateManagerIdentity(opts: ManagerIdentityOptions): Promise<ManagerIdentity> {
  if (opts.nodeId !== undefined && !NODE_ID.test(opts.nodeId)) {
    throw new ManagerIdentityError(`--node-id "${opts.nodeId}": use 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  const saved = loadNodeCredentials(opts.stateDir);
  if (saved !== undefined) {
    if (saved.role !== 'manager') throw new ManagerIdentityError(`${opts.stateDir} holds the credentials of worker ${saved.nodeId}, not of a manager`);
    if (opts.nodeId !== undefined && opts.nodeId !== saved.nodeId) {
      throw new ManagerIdentityError(`--node-id ${opts.nodeId} conflicts with ${saved.nodeId}, the manager this state directory belongs to`);
    }
    return { credentials: saved, initCa: readInitCa(opts.stateDir) };
  }
  if (opts.init && opts.join) throw new ManagerIdentityError('--init creates a new cluster and --join joins one: give one of them');
  const addresses = [hostOf(opts.raftAddress)];
  if (opts.init) {
    const ca = createCaState(newId());
    const credentials = issueLocalNodeCredentials(ca, { nodeId: opts.nodeId ?? newId(), role: 'manager' }, { addresses, lifetimeMs: opts.certLifetimeMs });
    // The CA first: credentials without it would be a manager of a cluster whose CA is lost.
    writeFileAtomicSync(join(opts.stateDir, INIT_CA_FILE), Buffer.from(CaState.encode(ca).finish()), 0o600);
    saveNodeCredentials(opts.stateDir, credentials);
    return { credentials, initCa: ca };
  }
  if (opts.join) {
    if (opts.nodeId !== undefined) throw new ManagerIdentityError('--node-id applies to --init only: a joining manager is named by the cluster');
    const credentials = await joinCluster({
      address: opts.join.address,
      token: opts.join.token,
      requestedRole: 'manager',
      addresses,
      raftAddress: opts.raftAddress,
      nodeKeyDir: opts.stateDir,
    });
    return { credentials, initCa: undefined };
  }
  throw new ManagerIdentityError(`${opts.stateDir} holds no cluster state: start with --init to create a cluster, or --join ADDR --token TOKEN to join one`);
}

/** Called once the Cluster object holds the CA: the copy made at --init is no longer needed. */
export function forgetInitCa(stateDir: string): void {
  rmSync(join(stateDir, INIT_CA_FILE), { force: true });
}

function readInitCa(stateDir: string): CaState | undefined {
  const file = join(stateDir, INIT_CA_FILE);
  return existsSync(file) ? CaState.decode(readFileSync(file)) : undefined;
}
