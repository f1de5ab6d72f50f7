/**
 * ECDSA P-256 keys, the only kind shoal's PKI issues or accepts (swarmkit's choice too: small,
 * fast to sign and verify, supported by every TLS stack).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { children, decode, readBitStringBytes } from './der.js';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

export function generateKeyPair(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** Throws unless `key` is an EC key on P-256. */
export function checkP256(key: KeyObject, what = 'key'): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new KeyError(`${what} must be ECDSA P-256, found ${key.asymmetricKeyType ?? key.type}${curve ? ` (${curve})` : ''}`);
  }
  return key;
}

/** PKCS#8 PEM ("PRIVATE KEY"). */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Reads a PKCS#8 or SEC1 PEM private key; it must be P-256. */
export function privateKeyFromPem(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new KeyError(`unreadable private key: ${(err as Error).message}`);
  }
  return checkP256(key, 'private key');
}

/** The DER SubjectPublicKeyInfo, as it goes into certificates and CSRs. */
export function subjectPublicKeyInfo(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return publicKey.export({ format: 'der', type: 'spki' });
}

export function publicKeyFromSpki(spki: Buffer): KeyObject {
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

/**
 * The key identifier of RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. Used for
 * subjectKeyIdentifier and, from the issuer's key, authorityKeyIdentifier.
 */
export function keyIdentifier(key: KeyObject): Buffer {
  const [, subjectPublicKey] = children(decode(subjectPublicKeyInfo(key)));
  return createHash('sha1').update(readBitStringBytes(subjectPublicKey!)).digest();
}

/** True when the two keys are the same public key (a private key counts as its public half). */
export function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  return subjectPublicKeyInfo(a).equals(subjectPublicKeyInfo(b));
}
