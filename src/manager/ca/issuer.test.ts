import { describe, expect, it } from 'vitest';
import { readCertificate } from '../../common/pki/certificate.js';
import { createCsr, CsrError } from '../../common/pki/csr.js';
import { generateKeyPair } from '../../common/pki/keys.js';
import { fromPem } from '../../common/pki/pem.js';
import { openssl } from '../../common/pki/testing/openssl.js';
import { createCaState, rootCAOf } from './ca-state.js';
import { DEFAULT_NODE_CERT_LIFETIME_MS, issueNodeCertificate, NodeCertificateError, nodeIdentityOf, NOT_BEFORE_BACKDATE_MS, signNodeCsr } from './issuer.js';
import { NodeRole } from '../../../proto/gen/objects.js';
import { roleFromProto, roleToProto } from './roles.js';

const state = createCaState('cluster-abc');
const ca = rootCAOf(state);

function x509Text(pem: string): string {
  return openssl(['x509', '-in', 'c.pem', '-noout', '-text'], { 'c.pem': pem }).output;
}

describe('node certificates', () => {
  it('name the node id, role and cluster, and verify against the root for client and server use', () => {
    const { privateKey } = generateKeyPair();
    const pem = signNodeCsr(ca, createCsr({ commonName: 'whatever-the-node-asked' }, privateKey), { nodeId: 'n1', role: 'worker', clusterId: 'cluster-abc' });
    expect(x509Text(pem)).toMatch(/Subject: O = cluster-abc, OU = worker, CN = n1/);
    for (const purpose of ['sslclient', 'sslserver']) {
      const { ok, output } = openssl(['verify', '-CAfile', 'root.pem', '-purpose', purpose, 'node.pem'], { 'root.pem': ca.certPem, 'node.pem': pem });
      expect(output).toMatch(/node.pem: OK/);
      expect(ok).toBe(true);
    }
    expect(nodeIdentityOf(fromPem(pem, 'CERTIFICATE'))).toEqual({ nodeId: 'n1', role: 'worker', clusterId: 'cluster-abc' });
  });

  it('give managers their addresses and shoal-manager as SANs, and workers none', () => {
    const { publicKey } = generateKeyPair();
    const manager = issueNodeCertificate(ca, publicKey, { nodeId: 'm1', role: 'manager', clusterId: 'cluster-abc' }, {
      addresses: ['10.0.0.5', 'mgr1.internal', '::1', '10.0.0.5'],
    });
    expect(x509Text(manager)).toMatch(/DNS:shoal-manager, DNS:mgr1.internal, IP Address:10.0.0.5, IP Address:0:0:0:0:0:0:0:1\n/);
    const worker = issueNodeCertificate(ca, publicKey, { nodeId: 'w1', role: 'worker', clusterId: 'cluster-abc' }, { addresses: ['10.0.0.6'] });
    expect(x509Text(worker)).not.toMatch(/Subject Alternative Name/);
    expect(() =>
      issueNodeCertificate(ca, publicKey, { nodeId: 'm1', role: 'manager', clusterId: 'cluster-abc' }, { addresses: ['bad name!'] }),
    ).toThrow(NodeCertificateError);
  });

  it('last 90 days by default or as configured, start a few minutes early, and never outlive the root', () => {
    const { publicKey } = generateKeyPair();
    const identity = { nodeId: 'n1', role: 'worker' as const, clusterId: 'cluster-abc' };
    const now = Date.now();
    const standard = readCertificate(fromPem(issueNodeCertificate(ca, publicKey, identity, { now }), 'CERTIFICATE'));
    expect(standard.notAfter.getTime()).toBe(Math.floor((now + DEFAULT_NODE_CERT_LIFETIME_MS) / 1000) * 1000);
    expect(standard.notBefore.getTime()).toBe(Math.floor((now - NOT_BEFORE_BACKDATE_MS) / 1000) * 1000);
    const hour = readCertificate(fromPem(issueNodeCertificate(ca, publicKey, identity, { now, lifetimeMs: 3_600_000 }), 'CERTIFICATE'));
    expect(hour.notAfter.getTime()).toBe(Math.floor((now + 3_600_000) / 1000) * 1000);
    const capped = readCertificate(fromPem(issueNodeCertificate(ca, publicKey, identity, { now, lifetimeMs: 100 * 365 * 86_400_000 }), 'CERTIFICATE'));
    expect(capped.notAfter).toEqual(readCertificate(ca.certificate).notAfter);
    expect(() => issueNodeCertificate(ca, publicKey, identity, { lifetimeMs: 0 })).toThrow(/positive/);
    expect(() => issueNodeCertificate(ca, publicKey, { ...identity, nodeId: '' })).toThrow(/node id/);
  });

  it('are issued only for a CSR whose signature verifies', () => {
    const { privateKey } = generateKeyPair();
    const csr = createCsr({ commonName: 'x' }, privateKey);
    const broken = csr.replace(/[A-Za-z](?=[^\n]*\n-----END)/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(() => signNodeCsr(ca, broken, { nodeId: 'n', role: 'worker', clusterId: 'c' })).toThrow(CsrError);
  });

  it('are told apart from certificates that name no node', () => {
    expect(() => nodeIdentityOf(ca.certificate)).toThrow(/names no node role/);
    expect(() => nodeIdentityOf(Buffer.from('3000', 'hex'))).toThrow(/unreadable certificate/);
  });

  it('map roles to the store’s enum and back', () => {
    expect(roleToProto('manager')).toBe(NodeRole.NODE_ROLE_MANAGER);
    expect(roleToProto('worker')).toBe(NodeRole.NODE_ROLE_WORKER);
    expect(roleFromProto(NodeRole.NODE_ROLE_MANAGER)).toBe('manager');
    expect(roleFromProto(NodeRole.NODE_ROLE_WORKER)).toBe('worker');
  });
});
