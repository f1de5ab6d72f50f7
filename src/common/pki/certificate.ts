/**
 * X.509 v3 certificates (RFC 5280): built from a template, signed with ECDSA P-256 / SHA-256, and
 * the few fields shoal reads back (subject, validity, key) decoded. Verification of chains is left
 * to Node's X509Certificate and the TLS stack.
 */
import { randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import {
  bitString,
  boolean,
  children,
  contextTag,
  decode,
  DerError,
  expectTag,
  explicit,
  ia5String,
  implicit,
  integer,
  namedBits,
  octetString,
  oid,
  readInteger,
  readTime,
  sequence,
  TAG,
  unsignedInteger,
  x509Time,
  type DerElement,
} from './der.js';
import { ipAddressBytes } from './ip-address.js';
import { checkP256, keyIdentifier, samePublicKey, subjectPublicKeyInfo } from './keys.js';
import { decodeName, encodeName, type DistinguishedName } from './names.js';
import { toPem } from './pem.js';

export const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

const EXTENSION_OIDS = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

// Bit positions of RFC 5280 4.2.1.3.
const KEY_USAGE_BITS = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;
export type KeyUsage = keyof typeof KEY_USAGE_BITS;

const EXTENDED_KEY_USAGE_OIDS = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;
export type ExtendedKeyUsage = keyof typeof EXTENDED_KEY_USAGE_OIDS;

export interface CertificateTemplate {
  subject: DistinguishedName;
  /** The key being certified (a private key is accepted; its public half is used). */
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  keyUsage: KeyUsage[];
  extendedKeyUsage?: ExtendedKeyUsage[];
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Unsigned big-endian; random 127-bit positive by default (RFC 5280 4.1.2.2 allows 20 octets). */
  serialNumber?: Buffer;
}

/** Who signs: the issuing CA's certificate (for its name and key id) and private key. */
export interface CertificateIssuer {
  certificate: X509Certificate;
  privateKey: KeyObject;
}

export interface SignedCertificate {
  der: Buffer;
  pem: string;
  x509: X509Certificate;
}

/** The fields shoal reads out of a certificate. */
export interface CertificateFields {
  serialNumber: bigint;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  subjectPublicKeyInfo: Buffer;
}

export function signatureAlgorithm(): Buffer {
  // RFC 5758 3.2: the parameters of ecdsa-with-SHA256 are absent.
  return sequence(oid(ECDSA_WITH_SHA256));
}

/** A self-signed certificate: the subject is its own issuer (a root CA). */
export function createSelfSignedCertificate(template: CertificateTemplate, privateKey: KeyObject): SignedCertificate {
  if (!samePublicKey(template.publicKey, privateKey)) throw new Error('a self-signed certificate must certify its own signing key');
  return build(template, { name: encodeName(template.subject), keyId: keyIdentifier(privateKey), privateKey });
}

/** A certificate signed by `issuer`, naming it byte for byte as it names itself. */
export function createCertificate(template: CertificateTemplate, issuer: CertificateIssuer): SignedCertificate {
  if (!samePublicKey(issuer.certificate.publicKey, issuer.privateKey)) {
    throw new Error("the issuer's private key does not match its certificate");
  }
  if (!issuer.certificate.ca) throw new Error('the issuer certificate is not a CA');
  return build(template, {
    name: subjectNameDer(issuer.certificate.raw),
    keyId: keyIdentifier(issuer.certificate.publicKey),
    privateKey: issuer.privateKey,
  });
}

interface Signer {
  name: Buffer;
  keyId: Buffer;
  privateKey: KeyObject;
}

function build(template: CertificateTemplate, signer: Signer): SignedCertificate {
  checkP256(template.publicKey, 'certified key');
  checkP256(signer.privateKey, 'signing key');
  if (template.notAfter.getTime() <= template.notBefore.getTime()) throw new Error('certificate validity ends before it starts');
  const tbs = sequence(
    explicit(0, integer(2)), // v3
    unsignedInteger(template.serialNumber ?? randomSerial()),
    signatureAlgorithm(),
    signer.name,
    sequence(x509Time(template.notBefore), x509Time(template.notAfter)),
    encodeName(template.subject),
    subjectPublicKeyInfo(template.publicKey),
    explicit(3, sequence(...extensions(template, signer.keyId))),
  );
  const signature = sign('sha256', tbs, { key: signer.privateKey, dsaEncoding: 'der' });
  const der = sequence(tbs, signatureAlgorithm(), bitString(signature));
  return { der, pem: toPem('CERTIFICATE', der), x509: new X509Certificate(der) };
}

function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  // Positive (top bit clear) and never zero or shortened (second bit set).
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // critical is DEFAULT FALSE, and DER omits a default value.
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

function extensions(template: CertificateTemplate, issuerKeyId: Buffer): Buffer[] {
  const out = [
    // cA is DEFAULT FALSE, so a leaf's basicConstraints is an empty SEQUENCE.
    extension(EXTENSION_OIDS.basicConstraints, true, template.isCA ? sequence(boolean(true)) : sequence()),
    extension(EXTENSION_OIDS.keyUsage, true, namedBits(template.keyUsage.map((u) => KEY_USAGE_BITS[u]))),
  ];
  if (template.extendedKeyUsage?.length) {
    out.push(extension(EXTENSION_OIDS.extKeyUsage, false, sequence(...template.extendedKeyUsage.map((u) => oid(EXTENDED_KEY_USAGE_OIDS[u])))));
  }
  const altNames = [
    ...(template.dnsNames ?? []).map((name) => implicit(2, decode(ia5String(name)).content)),
    ...(template.ipAddresses ?? []).map((ip) => implicit(7, ipAddressBytes(ip))),
  ];
  if (altNames.length > 0) out.push(extension(EXTENSION_OIDS.subjectAltName, false, sequence(...altNames)));
  out.push(extension(EXTENSION_OIDS.subjectKeyIdentifier, false, octetString(keyIdentifier(template.publicKey))));
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, ... }
  out.push(extension(EXTENSION_OIDS.authorityKeyIdentifier, false, sequence(implicit(0, issuerKeyId))));
  return out;
}

/** The TBSCertificate fields in order, past the optional version. */
function tbsFields(der: Buffer): DerElement[] {
  const [tbs] = children(expectTag(decode(der), TAG.SEQUENCE, 'Certificate'));
  const fields = children(expectTag(tbs, TAG.SEQUENCE, 'TBSCertificate'));
  return fields[0]?.tag === contextTag(0, true) ? fields.slice(1) : fields;
}

function subjectNameDer(der: Buffer): Buffer {
  const subject = tbsFields(der)[4];
  if (!subject) throw new DerError('certificate has no subject');
  return subject.raw;
}

/** Decodes the fields shoal reads; throws DerError on anything malformed. */
export function readCertificate(certificate: Buffer | X509Certificate): CertificateFields {
  const der = certificate instanceof X509Certificate ? certificate.raw : certificate;
  const [serial, , issuer, validity, subject, spki] = tbsFields(der);
  const [notBefore, notAfter] = children(expectTag(validity, TAG.SEQUENCE, 'Validity'));
  if (!notBefore || !notAfter) throw new DerError('certificate validity is incomplete');
  return {
    serialNumber: readInteger(expectTag(serial, TAG.INTEGER, 'serialNumber')),
    issuer: decodeName(expectTag(issuer, TAG.SEQUENCE, 'issuer')),
    subject: decodeName(expectTag(subject, TAG.SEQUENCE, 'subject')),
    notBefore: readTime(notBefore),
    notAfter: readTime(notAfter),
    subjectPublicKeyInfo: expectTag(spki, TAG.SEQUENCE, 'subjectPublicKeyInfo').raw,
  };
}
