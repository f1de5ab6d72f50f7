/**
 * PKCS#10 certificate signing requests (RFC 2986): a node proves it holds the private key of the
 * public key it asks the CA to certify, by signing the request with it.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { signatureAlgorithm, ECDSA_WITH_SHA256 } from './certificate.js';
import { bitString, children, contextTag, decode, expectTag, implicit, integer, readBitStringBytes, readInteger, readOid, sequence, TAG } from './der.js';
import { checkP256, publicKeyFromSpki, subjectPublicKeyInfo } from './keys.js';
import { decodeName, encodeName, type DistinguishedName } from './names.js';
import { pemBlocks, toPem } from './pem.js';

export const CSR_PEM_LABEL = 'CERTIFICATE REQUEST';

export interface CertificateRequest {
  subject: DistinguishedName;
  /** The key to certify; the request's signature has been verified against it. */
  publicKey: KeyObject;
}

export class CsrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsrError';
  }
}

/** A CSR for `privateKey`'s public half, signed by it. Returns PEM. */
export function createCsr(subject: DistinguishedName, privateKey: KeyObject): string {
  checkP256(privateKey, 'CSR key');
  const info = sequence(
    integer(0), // version v1
    encodeName(subject),
    subjectPublicKeyInfo(privateKey),
    implicit(0, Buffer.alloc(0), true), // attributes: none
  );
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  return toPem(CSR_PEM_LABEL, sequence(info, signatureAlgorithm(), bitString(signature)));
}

/** Decodes a PEM CSR and verifies its self-signature; throws CsrError saying what is wrong. */
export function parseCsr(pem: string): CertificateRequest {
  const blocks = pemBlocks(pem, CSR_PEM_LABEL);
  if (blocks.length !== 1) throw new CsrError(`expected one PEM "${CSR_PEM_LABEL}" block, found ${blocks.length}`);
  try {
    return parseCsrDer(blocks[0]!);
  } catch (err) {
    if (err instanceof CsrError) throw err;
    throw new CsrError(`malformed certificate request: ${(err as Error).message}`);
  }
}

function parseCsrDer(der: Buffer): CertificateRequest {
  const [info, algorithm, signature] = children(expectTag(decode(der), TAG.SEQUENCE, 'CertificationRequest'));
  const [version, subject, spki, attributes] = children(expectTag(info, TAG.SEQUENCE, 'CertificationRequestInfo'));
  if (readInteger(expectTag(version, TAG.INTEGER, 'version')) !== 0n) throw new CsrError('unsupported certificate request version');
  expectTag(attributes, contextTag(0, true), 'attributes');
  const [algorithmId] = children(expectTag(algorithm, TAG.SEQUENCE, 'signatureAlgorithm'));
  const algorithmOid = readOid(expectTag(algorithmId, TAG.OID, 'signature algorithm'));
  if (algorithmOid !== ECDSA_WITH_SHA256) throw new CsrError(`unsupported signature algorithm ${algorithmOid}; expected ecdsa-with-SHA256`);

  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromSpki(expectTag(spki, TAG.SEQUENCE, 'subjectPKInfo').raw);
  } catch (err) {
    throw new CsrError(`unreadable public key: ${(err as Error).message}`);
  }
  checkP256(publicKey, 'the requested key');
  const signed = verify('sha256', info!.raw, { key: publicKey, dsaEncoding: 'der' }, readBitStringBytes(expectTag(signature, TAG.BIT_STRING, 'signature')));
  if (!signed) throw new CsrError('certificate request signature does not verify');
  return { subject: decodeName(expectTag(subject, TAG.SEQUENCE, 'subject')), publicKey };
}
