/**
 * A node's side of the CA (workers and joining managers): join with a token, keep the resulting
 * key and certificates in the state directory, and renew the certificate before it expires.
 *
 * Joining: fetch the root CA over TLS that verifies nothing, check its SHA-256 digest against the
 * one the token pins (refusing a manager, or a man in the middle, that presents another root), then
 * send a CSR over TLS that trusts only that root and only a manager's certificate.
 */
import { Client, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { NodeCAService, type CaState, type IssueResponse } from '../../../proto/gen/ca.js';
import { readCertificate } from '../../common/pki/certificate.js';
import { createCsr } from '../../common/pki/csr.js';
import { generateKeyPair, privateKeyFromPem, privateKeyToPem, samePublicKey } from '../../common/pki/keys.js';
import { pemBlocks, toPem } from '../../common/pki/pem.js';
import { writeFileAtomicSync } from '../../common/atomic-file.js';
import { grpcChannelCredentials, joiningChannelCredentials, MANAGER_CHANNEL_OPTIONS, unverifiedChannelCredentials } from './grpc-credentials.js';
import { rootCAOf } from './ca-state.js';
import { issueNodeCertificate, nodeIdentityOf, type IssueOptions, type NodeIdentity } from './issuer.js';
import { certificateDigest } from './root-ca.js';
import type { NodeRoleName } from './roles.js';
import { parseJoinToken } from './tokens.js';

export interface NodeCredentials extends NodeIdentity {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  rootPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** One file, written atomically and 0600, so the key and its certificate can never disagree. */
export const NODE_CREDENTIALS_FILE = 'node-credentials.pem';

const DEFAULT_DEADLINE_MS = 20_000;

export class NodeCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeCredentialsError';
  }
}

/** Assembles credentials, checking that they fit together: root is a CA, it signed the certificate, the key matches. */
export function nodeCredentialsFromPem(certPem: string, keyPem: string, rootPem: string): NodeCredentials {
  const root = new X509Certificate(rootPem);
  if (!root.ca || !root.verify(root.publicKey)) throw new NodeCredentialsError('the root CA certificate is not a self-signed CA');
  const certificate = new X509Certificate(certPem);
  if (!certificate.checkIssued(root) || !certificate.verify(root.publicKey)) {
    throw new NodeCredentialsError('the node certificate was not issued by the root CA');
  }
  if (!samePublicKey(certificate.publicKey, privateKeyFromPem(keyPem))) throw new NodeCredentialsError('the node key does not match its certificate');
  const { notBefore, notAfter } = readCertificate(certificate);
  return { ...nodeIdentityOf(certificate), certPem, keyPem, rootPem, notBefore, notAfter };
}

export interface JoinOptions {
  /** A manager's host:port. */
  address: string;
  token: string;
  /** When given, the credentials are saved there (see saveNodeCredentials). */
  nodeKeyDir?: string;
  /** The role this node means to have; a token for the other role is then refused. */
  requestedRole?: NodeRoleName;
  /** A joining manager's addresses, for its certificate's SANs. */
  addresses?: string[];
  /** A joining manager's Raft address (host:port), where the leader will replicate to it. */
  raftAddress?: string;
  deadlineMs?: number;
}

export async function joinCluster(options: JoinOptions): Promise<NodeCredentials> {
  // A malformed token is reported before anything is sent.
  const { caDigest } = parseJoinToken(options.token);
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const rootPem = await fetchRootCA(options.address, caDigest, deadlineMs);

  const { privateKey } = generateKeyPair();
  const keyPem = privateKeyToPem(privateKey);
  const response = await callNodeCA(
    options.address,
    joiningChannelCredentials(rootPem),
    NodeCAService.issueNodeCertificate,
    {
      token: options.token,
      // The CA names the node; this CN is a placeholder it ignores.
      csrPem: createCsr({ commonName: 'shoal-joining-node' }, privateKey),
      requestedRole: options.requestedRole ?? '',
      addresses: options.addresses ?? [],
      raftAddress: options.raftAddress ?? '',
      hostname: hostname(),
    },
    deadlineMs,
  );
  const creds = credentialsFromResponse(response, keyPem, rootPem);
  if (options.requestedRole !== undefined && creds.role !== options.requestedRole) {
    throw new NodeCredentialsError(`asked to join as a ${options.requestedRole} but was issued a ${creds.role} certificate`);
  }
  if (options.nodeKeyDir !== undefined) saveNodeCredentials(options.nodeKeyDir, creds);
  return creds;
}

/** The root CA certificate served at `address`, if and only if its digest is `expectedDigest`. */
export async function fetchRootCA(address: string, expectedDigest: string, deadlineMs = DEFAULT_DEADLINE_MS): Promise<string> {
  const { certificatePem } = await callNodeCA(address, unverifiedChannelCredentials(), NodeCAService.getRootCaCertificate, {}, deadlineMs);
  let digest: string;
  try {
    digest = certificateDigest(certificatePem);
  } catch (err) {
    throw new NodeCredentialsError(`the manager at ${address} sent an unreadable root CA certificate: ${(err as Error).message}`);
  }
  if (digest !== expectedDigest) {
    throw new NodeCredentialsError(
      `the root CA at ${address} has digest ${digest}, but the join token pins ${expectedDigest}: ` +
        'refusing to trust it (wrong cluster, or someone in between)',
    );
  }
  return certificatePem;
}

/** Checks an Issue/Renew answer against what was asked: the pinned root, our key, a matching id. */
function credentialsFromResponse(response: IssueResponse, keyPem: string, rootPem: string): NodeCredentials {
  if (response.rootCaPem !== rootPem) throw new NodeCredentialsError('the CA answered with a different root CA than the one trusted');
  const creds = nodeCredentialsFromPem(response.certificatePem, keyPem, rootPem);
  if (creds.nodeId !== response.nodeId || creds.role !== response.role) {
    throw new NodeCredentialsError(`the issued certificate names ${creds.role} ${creds.nodeId}, but the CA said ${response.role} ${response.nodeId}`);
  }
  return creds;
}

/**
 * Credentials a manager that holds the CA signs for itself, with no network round trip: the first
 * manager at `--init` (which has no one to join), or any manager whose certificate must be replaced.
 */
export function issueLocalNodeCredentials(state: CaState, node: { nodeId: string; role: NodeRoleName }, options: IssueOptions = {}): NodeCredentials {
  const { privateKey } = generateKeyPair();
  const certPem = issueNodeCertificate(rootCAOf(state), privateKey, { ...node, clusterId: state.clusterId }, options);
  return nodeCredentialsFromPem(certPem, privateKeyToPem(privateKey), state.rootCaCertPem);
}

// ---------------------------------------------------------------------------------------------
// Storage

/** Writes the credentials to `dir`/node-credentials.pem (0600; dir created 0700). */
export function saveNodeCredentials(dir: string, creds: NodeCredentials): void {
  // Order: the node certificate, the root, the key; loadNodeCredentials reads them back so.
  writeFileAtomicSync(join(dir, NODE_CREDENTIALS_FILE), `${creds.certPem}${creds.rootPem}${creds.keyPem}`, 0o600);
}

/** The credentials saved in `dir`, undefined if none were; throws if the file is damaged. */
export function loadNodeCredentials(dir: string): NodeCredentials | undefined {
  const file = join(dir, NODE_CREDENTIALS_FILE);
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const certificates = pemBlocks(text, 'CERTIFICATE');
  const keys = pemBlocks(text, 'PRIVATE KEY');
  if (certificates.length !== 2 || keys.length !== 1) {
    throw new NodeCredentialsError(`${file} should hold two certificates and a private key; found ${certificates.length} and ${keys.length}`);
  }
  try {
    return nodeCredentialsFromPem(toPem('CERTIFICATE', certificates[0]!), toPem('PRIVATE KEY', keys[0]!), toPem('CERTIFICATE', certificates[1]!));
  } catch (err) {
    throw new NodeCredentialsError(`${file} is unusable: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Renewal

/** When (ms since the epoch) `lifetimeFraction` of the certificate's validity has passed. */
export function renewalTime(creds: NodeCredentials, lifetimeFraction = 0.5): number {
  const start = creds.notBefore.getTime();
  return start + (creds.notAfter.getTime() - start) * lifetimeFraction;
}

export interface RenewOptions {
  /** A manager's host:port. */
  address: string;
  /** When given, the new credentials are saved there. */
  nodeKeyDir?: string;
  /** A manager's current addresses, for its new certificate's SANs. */
  addresses?: string[];
  deadlineMs?: number;
}

/** A new key and certificate for the same node, asked for over mutual TLS with the current ones. */
export async function renewNodeCredentials(creds: NodeCredentials, options: RenewOptions): Promise<NodeCredentials> {
  const { privateKey } = generateKeyPair();
  const keyPem = privateKeyToPem(privateKey);
  const response = await callNodeCA(
    options.address,
    grpcChannelCredentials(creds),
    NodeCAService.renewNodeCertificate,
    { csrPem: createCsr({ commonName: creds.nodeId }, privateKey), addresses: options.addresses ?? [] },
    options.deadlineMs ?? DEFAULT_DEADLINE_MS,
  );
  const renewed = credentialsFromResponse(response, keyPem, creds.rootPem);
  if (renewed.nodeId !== creds.nodeId) throw new NodeCredentialsError(`renewal returned a certificate for ${renewed.nodeId}, not ${creds.nodeId}`);
  if (options.nodeKeyDir !== undefined) saveNodeCredentials(options.nodeKeyDir, renewed);
  return renewed;
}

/**
 * Renews once `lifetimeFraction` of the certificate's validity has passed (half, by default, as
 * swarmkit does, leaving the other half to retry in); undefined when not yet due.
 */
export async function renewIfDue(
  creds: NodeCredentials,
  options: RenewOptions & { now?: number; lifetimeFraction?: number },
): Promise<NodeCredentials | undefined> {
  if ((options.now ?? Date.now()) < renewalTime(creds, options.lifetimeFraction)) return undefined;
  return renewNodeCredentials(creds, options);
}

// ---------------------------------------------------------------------------------------------

interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize: (value: Req) => Buffer;
  responseDeserialize: (value: Buffer) => Res;
}

/** One NodeCA call on a channel of its own, closed afterwards; a refusal keeps its gRPC code. */
async function callNodeCA<Req, Res>(
  address: string,
  channelCredentials: ChannelCredentials,
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadlineMs: number,
): Promise<Res> {
  const client = new Client(address, channelCredentials, MANAGER_CHANNEL_OPTIONS);
  try {
    return await new Promise<Res>((resolve, reject) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err: ServiceError | null, response?: Res) => (err || response === undefined ? reject(err) : resolve(response)),
      );
    });
  } finally {
    client.close();
  }
}
