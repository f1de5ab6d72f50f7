import { Metadata, status } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../common/pki/keys.js';
import { fromPem } from '../../common/pki/pem.js';
import { callerIdentity, directCallerIdentity, FORWARDED_FOR_METADATA, forwardedForMetadata, requireNode, requireRole, type AuthenticatedCall } from './authorize.js';
import { createCaState, rootCAOf } from './ca-state.js';
import { issueNodeCertificate } from './issuer.js';

const state = createCaState('cluster-1');

/** A call as grpc-js presents it after the TLS layer verified (or did not get) a client certificate. */
function callWith(certPem: string | undefined): AuthenticatedCall {
  const sslPeerCertificate = certPem ? ({ raw: fromPem(certPem, 'CERTIFICATE') } as PeerCertificate) : undefined;
  return { getAuthContext: () => (sslPeerCertificate ? { transportSecurityType: 'ssl', sslPeerCertificate } : {}) };
}

function certFor(role: 'worker' | 'manager', nodeId: string): string {
  return issueNodeCertificate(rootCAOf(state), generateKeyPair().publicKey, { nodeId, role, clusterId: 'cluster-1' });
}

describe('authorizing callers by their certificate', () => {
  it('reads the caller’s identity', () => {
    expect(callerIdentity(callWith(certFor('worker', 'w1')))).toEqual({ nodeId: 'w1', role: 'worker', clusterId: 'cluster-1' });
    expect(callerIdentity(callWith(undefined))).toBeUndefined();
    // A certificate that names no node (here: the root's) is no identity.
    expect(callerIdentity(callWith(state.rootCaCertPem))).toBeUndefined();
  });

  it('refuses a caller without a certificate as UNAUTHENTICATED', () => {
    expect(() => requireNode(callWith(undefined))).toThrow(expect.objectContaining({ code: status.UNAUTHENTICATED }));
  });

  it('refuses a worker certificate where a manager is required, naming both roles', () => {
    const worker = callWith(certFor('worker', 'w1'));
    expect(() => requireRole(worker, 'manager')).toThrow(
      expect.objectContaining({
        code: status.PERMISSION_DENIED,
        details: 'node w1 has a worker certificate; this call needs a manager certificate',
      }),
    );
    expect(requireRole(worker, ['worker', 'manager']).nodeId).toBe('w1');
    expect(requireRole(callWith(certFor('manager', 'm1')), 'manager')).toEqual({ nodeId: 'm1', role: 'manager', clusterId: 'cluster-1' });
  });
});

describe('calls a manager forwarded for a node', () => {
  function forwardedBy(certPem: string, identity: { nodeId: string; role: 'worker' | 'manager'; clusterId: string }): AuthenticatedCall {
    return { ...callWith(certPem), metadata: forwardedForMetadata(identity) };
  }

  it('act for the node the forwarding manager names', () => {
    const call = forwardedBy(certFor('manager', 'm2'), { nodeId: 'w7', role: 'worker', clusterId: 'cluster-1' });
    expect(callerIdentity(call)).toEqual({ nodeId: 'w7', role: 'worker', clusterId: 'cluster-1' });
    expect(directCallerIdentity(call)?.nodeId).toBe('m2');
    expect(() => requireRole(call, 'manager')).toThrow(expect.objectContaining({ code: status.PERMISSION_DENIED }));
  });

  it('refuse a worker that claims to act for another node', () => {
    const call = forwardedBy(certFor('worker', 'w1'), { nodeId: 'm1', role: 'manager', clusterId: 'cluster-1' });
    expect(() => callerIdentity(call)).toThrow(
      expect.objectContaining({ code: status.PERMISSION_DENIED, details: 'node w1 has a worker certificate and may not act for another node' }),
    );
  });

  it('refuse a claim for another cluster or a malformed claim', () => {
    const foreign = forwardedBy(certFor('manager', 'm2'), { nodeId: 'w7', role: 'worker', clusterId: 'cluster-2' });
    expect(() => callerIdentity(foreign)).toThrow(expect.objectContaining({ code: status.PERMISSION_DENIED }));
    const metadata = new Metadata();
    metadata.set(FORWARDED_FOR_METADATA, '{"nodeId":"w7","role":"admin"}');
    expect(() => callerIdentity({ ...callWith(certFor('manager', 'm2')), metadata })).toThrow(expect.objectContaining({ code: status.UNAUTHENTICATED }));
  });
});
