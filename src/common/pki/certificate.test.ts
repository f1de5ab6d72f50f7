import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificate, createSelfSignedCertificate, readCertificate } from './certificate.js';
import { generateKeyPair } from './keys.js';
import { fromPem } from './pem.js';
import { testCa, testLeaf } from './testing/fixtures.js';
import { openssl } from './testing/openssl.js';

const DAY_MS = 86_400_000;

function x509Text(pem: string): string {
  const { ok, output } = openssl(['x509', '-in', 'c.pem', '-noout', '-text'], { 'c.pem': pem });
  expect(ok).toBe(true);
  return output;
}

function verify(rootPem: string, leafPem: string, ...extra: string[]) {
  return openssl(['verify', '-CAfile', 'root.pem', ...extra, 'leaf.pem'], { 'root.pem': rootPem, 'leaf.pem': leafPem });
}

describe('self-signed CA certificates', () => {
  it('are v3 CAs with the key usages a root needs, as openssl reads them', () => {
    const ca = testCa('shoal-root-ca');
    const text = x509Text(ca.certificate.pem);
    expect(text).toMatch(/Version: 3 \(0x2\)/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/Issuer: CN = shoal-root-ca/);
    expect(text).toMatch(/Subject: CN = shoal-root-ca/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    // A root names itself as its own authority.
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text)![1];
    expect(/Authority Key Identifier:\s+([0-9A-F:]+)/.exec(text)![1]).toBe(ski);
    expect(ca.certificate.x509.ca).toBe(true);
    expect(ca.certificate.x509.verify(ca.certificate.x509.publicKey)).toBe(true);
    // A root verifies against itself.
    expect(verify(ca.certificate.pem, ca.certificate.pem).ok).toBe(true);
  });

  it('must certify the key that signs them', () => {
    const signer = generateKeyPair();
    expect(() =>
      createSelfSignedCertificate(
        { subject: { commonName: 'x' }, publicKey: generateKeyPair().publicKey, notBefore: new Date(), notAfter: new Date(Date.now() + DAY_MS), isCA: true, keyUsage: ['keyCertSign'] },
        signer.privateKey,
      ),
    ).toThrow(/its own signing key/);
  });
});

describe('certificates signed by a CA', () => {
  const ca = testCa('shoal-root-ca');

  it('carry subject, SANs, usages and key identifiers, and verify for TLS client and server', () => {
    const leaf = testLeaf(ca, {
      subject: { commonName: 'node-abc', organizationalUnit: 'manager', organization: 'cluster-xyz' },
      dnsNames: ['shoal-manager', 'mgr1.example'],
      ipAddresses: ['10.1.2.3', '::1', 'fd00::12:3'],
    });
    const text = x509Text(leaf.certificate.pem);
    expect(text).toMatch(/Subject: O = cluster-xyz, OU = manager, CN = node-abc/);
    expect(text).toMatch(/Issuer: CN = shoal-root-ca/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(
      /DNS:shoal-manager, DNS:mgr1.example, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:12:3/,
    );
    const caSki = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(x509Text(ca.certificate.pem))![1]!;
    expect(/Authority Key Identifier:\s+([0-9A-F:]+)/.exec(text)![1]).toBe(caSki);

    expect(verify(ca.certificate.pem, leaf.certificate.pem).output).toMatch(/leaf.pem: OK/);
    expect(verify(ca.certificate.pem, leaf.certificate.pem, '-purpose', 'sslserver').ok).toBe(true);
    expect(verify(ca.certificate.pem, leaf.certificate.pem, '-purpose', 'sslclient').ok).toBe(true);

    const x509 = leaf.certificate.x509;
    expect(x509.checkIssued(ca.certificate.x509)).toBe(true);
    expect(x509.verify(ca.certificate.x509.publicKey)).toBe(true);
    expect(x509.ca).toBe(false);
    expect(x509.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(x509.checkHost('shoal-manager')).toBe('shoal-manager');
    expect(x509.checkHost('other.example')).toBeUndefined();
  });

  it('read back through readCertificate, and parse the same from PEM', () => {
    const notBefore = new Date(Date.UTC(2030, 0, 1, 12, 0, 0));
    const notAfter = new Date(Date.UTC(2060, 0, 1, 12, 0, 0)); // GeneralizedTime territory
    const serialNumber = Buffer.from('00ff0102', 'hex');
    const leaf = testLeaf(ca, { notBefore, notAfter, serialNumber });
    const fields = readCertificate(fromPem(leaf.certificate.pem, 'CERTIFICATE'));
    expect(fields.subject).toEqual({ commonName: 'node-1', organizationalUnit: 'worker', organization: 'cluster-1' });
    expect(fields.issuer).toEqual({ commonName: 'shoal-root-ca' });
    expect(fields.notBefore).toEqual(notBefore);
    expect(fields.notAfter).toEqual(notAfter);
    expect(fields.serialNumber).toBe(0xff0102n);
    expect(new X509Certificate(leaf.certificate.pem).validTo).toBe('Jan  1 12:00:00 2060 GMT');
    expect(x509Text(leaf.certificate.pem)).toMatch(/Not After : Jan {2}1 12:00:00 2060 GMT/);
  });

  it('get distinct positive random serial numbers', () => {
    const serials = new Set([1, 2, 3, 4].map(() => readCertificate(testLeaf(ca).certificate.der).serialNumber));
    expect(serials.size).toBe(4);
    for (const s of serials) expect(s > 0n && s < 2n ** 127n).toBe(true);
  });

  it('are refused by openssl when expired or signed by another CA', () => {
    const expired = testLeaf(ca, { notBefore: new Date(Date.now() - 3 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
    expect(verify(ca.certificate.pem, expired.certificate.pem).output).toMatch(/certificate has expired/);
    const other = testCa('shoal-root-ca'); // same name, different key
    const foreign = testLeaf(other);
    const result = verify(ca.certificate.pem, foreign.certificate.pem);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/signature failure|unable to get local issuer certificate/);
  });

  it('refuse mismatched or non-CA issuers, inverted validity and non-P-256 keys', () => {
    const base = { subject: { commonName: 'n' }, notBefore: new Date(), notAfter: new Date(Date.now() + DAY_MS), isCA: false, keyUsage: ['digitalSignature' as const] };
    const publicKey = generateKeyPair().publicKey;
    expect(() => createCertificate({ ...base, publicKey }, { certificate: ca.certificate.x509, privateKey: generateKeyPair().privateKey })).toThrow(
      /does not match its certificate/,
    );
    const leaf = testLeaf(ca);
    expect(() => createCertificate({ ...base, publicKey }, { certificate: leaf.certificate.x509, privateKey: leaf.privateKey })).toThrow(/not a CA/);
    expect(() =>
      createCertificate({ ...base, publicKey, notAfter: base.notBefore }, { certificate: ca.certificate.x509, privateKey: ca.privateKey }),
    ).toThrow(/ends before it starts/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(() => createCertificate({ ...base, publicKey: rsa }, { certificate: ca.certificate.x509, privateKey: ca.privateKey })).toThrow(/P-256/);
  });
});
