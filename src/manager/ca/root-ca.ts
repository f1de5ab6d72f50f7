/**
 * The cluster's root CA: a self-signed ECDSA P-256 certificate, valid for 20 years, whose key signs
 * every node certificate. Its digest (SHA-256 of the DER certificate, what
 * `openssl x509 -outform der | sha256sum` prints) is what join tokens pin.
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSelfSignedCertificate } from '../../common/pki/certificate.js';
import { generateKeyPair, privateKeyFromPem, privateKeyToPem, samePublicKey } from '../../common/pki/keys.js';
import { fromPem } from '../../common/pki/pem.js';
import { writeFileAtomicSync } from '../../common/atomic-file.js';

export const ROOT_CA_COMMON_NAME = 'shoal-root-ca';
export const ROOT_CA_LIFETIME_YEARS = 20;

export const ROOT_CA_CERT_FILE = 'root-ca.crt';
export const ROOT_CA_KEY_FILE = 'root-ca.key';

export interface RootCA {
  certPem: string;
  keyPem: string;
  certificate: X509Certificate;
  privateKey: KeyObject;
  /** 64 lower-case hex digits. */
  digest: string;
}

/** A new root CA, valid from `now` (ms since the epoch) for 20 years. */
export function createRootCA(now = Date.now()): RootCA {
  const { privateKey, publicKey } = generateKeyPair();
  const notBefore = new Date(now);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + ROOT_CA_LIFETIME_YEARS);
  const { pem } = createSelfSignedCertificate(
    { subject: { commonName: ROOT_CA_COMMON_NAME }, publicKey, notBefore, notAfter, isCA: true, keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'] },
    privateKey,
  );
  return rootCAFromPem(pem, privateKeyToPem(privateKey));
}

/** SHA-256 of the DER certificate, in hex. */
export function certificateDigest(certPem: string): string {
  return createHash('sha256').update(fromPem(certPem, 'CERTIFICATE')).digest('hex');
}

/** Reads a root CA back, checking that it is a self-signed CA whose key matches. */
export function rootCAFromPem(certPem: string, keyPem: string): RootCA {
  const certificate = new X509Certificate(certPem);
  const privateKey = privateKeyFromPem(keyPem);
  if (!certificate.ca) throw new Error('the root CA certificate is not a CA certificate');
  if (!certificate.verify(certificate.publicKey)) throw new Error('the root CA certificate is not self-signed');
  if (!samePublicKey(certificate.publicKey, privateKey)) throw new Error('the root CA key does not match its certificate');
  return { certPem, keyPem, certificate, privateKey, digest: certificateDigest(certPem) };
}

/** Writes `root-ca.crt` (0644) and `root-ca.key` (0600) into `dir` (created 0700). */
export function saveRootCA(dir: string, ca: RootCA): void {
  // Key first: a crash between the two writes then leaves a key without a certificate (loadRootCA
  // reports it) rather than a certificate whose key is lost.
  writeFileAtomicSync(join(dir, ROOT_CA_KEY_FILE), ca.keyPem, 0o600);
  writeFileAtomicSync(join(dir, ROOT_CA_CERT_FILE), ca.certPem, 0o644);
}

/** The root CA saved in `dir`, or undefined when there is none; throws on a damaged one. */
export function loadRootCA(dir: string): RootCA | undefined {
  const certFile = join(dir, ROOT_CA_CERT_FILE);
  const keyFile = join(dir, ROOT_CA_KEY_FILE);
  if (!existsSync(certFile) && !existsSync(keyFile)) return undefined;
  if (!existsSync(certFile) || !existsSync(keyFile)) throw new Error(`${dir} holds only half of a root CA (${ROOT_CA_CERT_FILE}, ${ROOT_CA_KEY_FILE})`);
  try {
    return rootCAFromPem(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'));
  } catch (err) {
    throw new Error(`the root CA in ${dir} is unusable: ${(err as Error).message}`);
  }
}
