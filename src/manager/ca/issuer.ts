/**
 * Node certificates: what the CA signs and what the rest of the manager reads back from a peer's
 * certificate to authorize it. The subject says who the node is: CN = node id, OU = role
 * ("worker" | "manager"), O = cluster id. Every node certificate is good for TLS client and server
 * use; a manager's also names its addresses (and `shoal-manager`, the name clients verify against)
 * as subject alternative names.
 */
import { isIP } from 'node:net';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { createCertificate, readCertificate } from '../../common/pki/certificate.js';
import { parseCsr } from '../../common/pki/csr.js';
import type { DistinguishedName } from '../../common/pki/names.js';
import type { RootCA } from './root-ca.js';
import { isNodeRole, type NodeRoleName } from './roles.js';

const DAY_MS = 86_400_000;
export const DEFAULT_NODE_CERT_LIFETIME_MS = 90 * DAY_MS;

/** Certificates start a little in the past so that a node whose clock lags still accepts them. */
export const NOT_BEFORE_BACKDATE_MS = 5 * 60_000;

/** The DNS name in every manager certificate; clients set it as the TLS server name. */
export const MANAGER_SERVER_NAME = 'shoal-manager';

export interface NodeIdentity {
  nodeId: string;
  role: NodeRoleName;
  clusterId: string;
}

export interface IssueOptions {
  /** How long the certificate is valid; 90 days by default. */
  lifetimeMs?: number;
  /** Wall clock, ms since the epoch; Date.now() by default. */
  now?: number;
  /** A manager's IP addresses and DNS names, for its SANs. Ignored for workers. */
  addresses?: readonly string[];
}

export class NodeCertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeCertificateError';
  }
}

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function subjectAltNames(addresses: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames = [MANAGER_SERVER_NAME];
  const ipAddresses: string[] = [];
  for (const address of addresses) {
    if (isIP(address)) ipAddresses.push(address);
    else if (DNS_NAME.test(address)) dnsNames.push(address);
    else throw new NodeCertificateError(`${JSON.stringify(address)} is neither an IP address nor a DNS name`);
  }
  return { dnsNames: [...new Set(dnsNames)], ipAddresses: [...new Set(ipAddresses)] };
}

/** Signs a certificate for `publicKey` naming `identity`. Returns PEM. */
export function issueNodeCertificate(ca: RootCA, publicKey: KeyObject, identity: NodeIdentity, options: IssueOptions = {}): string {
  const now = options.now ?? Date.now();
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_NODE_CERT_LIFETIME_MS;
  if (!(lifetimeMs > 0)) throw new NodeCertificateError('a certificate lifetime must be positive');
  if (identity.nodeId === '' || identity.clusterId === '') throw new NodeCertificateError('a node certificate needs a node id and a cluster id');
  // A certificate must not outlive the CA that vouches for it.
  const caNotAfter = readCertificate(ca.certificate).notAfter.getTime();
  const notAfter = new Date(Math.min(now + lifetimeMs, caNotAfter));
  const sans = identity.role === 'manager' ? subjectAltNames(options.addresses ?? []) : {};
  const { pem } = createCertificate(
    {
      subject: { commonName: identity.nodeId, organizationalUnit: identity.role, organization: identity.clusterId },
      publicKey,
      notBefore: new Date(now - NOT_BEFORE_BACKDATE_MS),
      notAfter,
      isCA: false,
      keyUsage: ['digitalSignature'],
      extendedKeyUsage: ['serverAuth', 'clientAuth'],
      ...sans,
    },
    { certificate: ca.certificate, privateKey: ca.privateKey },
  );
  return pem;
}

/** Verifies `csrPem` and signs its key for `identity`; the CSR's own subject is ignored. */
export function signNodeCsr(ca: RootCA, csrPem: string, identity: NodeIdentity, options: IssueOptions = {}): string {
  return issueNodeCertificate(ca, parseCsr(csrPem).publicKey, identity, options);
}

/** Who a node certificate names; throws NodeCertificateError for a certificate that is not one. */
export function nodeIdentityOf(certificate: X509Certificate | Buffer): NodeIdentity {
  const { commonName, organizationalUnit, organization } = subjectOf(certificate);
  if (!isNodeRole(organizationalUnit)) throw new NodeCertificateError(`certificate of ${commonName} names no node role (OU is ${JSON.stringify(organizationalUnit ?? '')})`);
  if (!organization) throw new NodeCertificateError(`certificate of ${commonName} names no cluster (O)`);
  return { nodeId: commonName, role: organizationalUnit, clusterId: organization };
}

function subjectOf(certificate: X509Certificate | Buffer): DistinguishedName {
  try {
    return readCertificate(certificate).subject;
  } catch (err) {
    throw new NodeCertificateError(`unreadable certificate: ${(err as Error).message}`);
  }
}
