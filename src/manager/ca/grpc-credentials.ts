/**
 * gRPC TLS credentials built from a node's certificate. Clients trust only the cluster root and
 * accept a server only if its certificate is a manager's of the same cluster: checking the role
 * rather than the host name is what stops a worker (whose certificate the same root signed) from
 * posing as a manager, and it works whichever address a manager was reached at.
 */
import { credentials, ServerCredentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { MANAGER_SERVER_NAME, nodeIdentityOf, type NodeIdentity } from './issuer.js';
import type { NodeCredentials } from './node-credentials.js';

/**
 * Channel options for every client of a manager: the TLS server name is `shoal-manager` (in every
 * manager certificate) rather than the address, which may be an IP (RFC 6066 forbids IPs there).
 */
export const MANAGER_CHANNEL_OPTIONS: ChannelOptions = { 'grpc.ssl_target_name_override': MANAGER_SERVER_NAME };

/** A checkServerIdentity that accepts only a manager certificate (of `clusterId`, when given). */
export function verifyManagerCertificate(clusterId: string | undefined): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const identity = identityOrError(cert);
    if (identity instanceof Error) return identity;
    if (identity.role !== 'manager') return new Error(`the server presented the certificate of ${identity.role} ${identity.nodeId}, not of a manager`);
    if (clusterId !== undefined && identity.clusterId !== clusterId) {
      return new Error(`the server is a manager of cluster ${identity.clusterId}, not of ${clusterId}`);
    }
    return undefined;
  };
}

function identityOrError(cert: PeerCertificate): NodeIdentity | Error {
  try {
    return nodeIdentityOf(cert.raw);
  } catch (err) {
    return err as Error;
  }
}

/** Mutual TLS to a manager: presents the node's certificate, trusts only its cluster's root. */
export function grpcChannelCredentials(creds: NodeCredentials): ChannelCredentials {
  return credentials.createSsl(Buffer.from(creds.rootPem), Buffer.from(creds.keyPem), Buffer.from(creds.certPem), {
    checkServerIdentity: verifyManagerCertificate(creds.clusterId),
  });
}

/** Server-authenticated TLS for a node with no certificate yet, trusting only `rootPem`. */
export function joiningChannelCredentials(rootPem: string): ChannelCredentials {
  return credentials.createSsl(Buffer.from(rootPem), null, null, { checkServerIdentity: verifyManagerCertificate(undefined) });
}

/**
 * TLS that accepts any server: only for fetching the root CA certificate before joining, whose
 * digest the caller must then check against the join token. Nothing else may use it.
 */
export function unverifiedChannelCredentials(): ChannelCredentials {
  return credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
}

export interface ServerCredentialOptions {
  /**
   * true: refuse connections without a client certificate from the root (the dispatcher's port).
   * false: ask for one but accept its absence, as the manager port serving NodeCA must, since a
   * joining node has none yet; handlers then require one per call (authorize.ts). A certificate
   * the root did not sign is treated as absent.
   */
  requireClientCert: boolean;
}

/**
 * A server's TLS credentials whose certificate can be replaced while it serves (a manager renews
 * its own certificate): new connections use the new one, established ones keep theirs.
 */
export class NodeServerCredentials extends ServerCredentials {
  constructor(creds: NodeCredentials, options: ServerCredentialOptions) {
    super({ requestCert: true, rejectUnauthorized: options.requireClientCert }, contextOptions(creds));
  }

  update(creds: NodeCredentials): void {
    this.updateSecureContextOptions(contextOptions(creds));
  }

  _equals(other: ServerCredentials): boolean {
    return this === other;
  }
}

function contextOptions(creds: NodeCredentials) {
  return { ca: Buffer.from(creds.rootPem), cert: Buffer.from(creds.certPem), key: Buffer.from(creds.keyPem) };
}

export function grpcServerCredentials(creds: NodeCredentials, options: ServerCredentialOptions): NodeServerCredentials {
  return new NodeServerCredentials(creds, options);
}
