/** Test support: a throwaway CA and certificates signed by it, built with the real PKI code. */
import type { KeyObject } from 'node:crypto';
import { createCertificate, createSelfSignedCertificate, type CertificateTemplate, type SignedCertificate } from '../certificate.js';
import { generateKeyPair, privateKeyToPem } from '../keys.js';

const DAY_MS = 86_400_000;

export interface TestCa {
  certificate: SignedCertificate;
  privateKey: KeyObject;
}

export function testCa(commonName = 'test-ca', now = new Date()): TestCa {
  const { privateKey, publicKey } = generateKeyPair();
  const certificate = createSelfSignedCertificate(
    {
      subject: { commonName },
      publicKey,
      notBefore: now,
      notAfter: new Date(now.getTime() + 365 * DAY_MS),
      isCA: true,
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
    },
    privateKey,
  );
  return { certificate, privateKey };
}

export interface TestLeaf {
  certificate: SignedCertificate;
  privateKey: KeyObject;
  keyPem: string;
}

/** A TLS client+server leaf signed by `ca`; `overrides` replace template fields. */
export function testLeaf(ca: TestCa, overrides: Partial<CertificateTemplate> = {}): TestLeaf {
  const { privateKey, publicKey } = generateKeyPair();
  const now = new Date();
  const certificate = createCertificate(
    {
      subject: { commonName: 'node-1', organizationalUnit: 'worker', organization: 'cluster-1' },
      publicKey,
      notBefore: now,
      notAfter: new Date(now.getTime() + 30 * DAY_MS),
      isCA: false,
      keyUsage: ['digitalSignature'],
      extendedKeyUsage: ['serverAuth', 'clientAuth'],
      ...overrides,
    },
    { certificate: ca.certificate.x509, privateKey: ca.privateKey },
  );
  return { certificate, privateKey, keyPem: privateKeyToPem(privateKey) };
}
