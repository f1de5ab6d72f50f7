import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readCertificate } from './certificate.js';
import { checkP256, generateKeyPair, keyIdentifier, KeyError, privateKeyFromPem, privateKeyToPem, samePublicKey } from './keys.js';
import { fromPem } from './pem.js';
import { openssl, opensslOutputFile } from './testing/openssl.js';

describe('keys', () => {
  it('generates P-256 keys that survive a PEM round trip', () => {
    const { privateKey, publicKey } = generateKeyPair();
    const pem = privateKeyToPem(privateKey);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const back = privateKeyFromPem(pem);
    expect(samePublicKey(back, publicKey)).toBe(true);
    expect(samePublicKey(back, generateKeyPair().publicKey)).toBe(false);
    // openssl agrees it is a valid prime256v1 key.
    const { ok, output } = openssl(['pkey', '-in', 'k.pem', '-noout', '-text'], { 'k.pem': pem });
    expect(ok).toBe(true);
    expect(output).toMatch(/prime256v1|P-256/);
  });

  it('reads SEC1 "EC PRIVATE KEY" files written by openssl', () => {
    const sec1 = opensslOutputFile(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'k.pem'], 'k.pem');
    expect(sec1).toMatch(/BEGIN EC PRIVATE KEY/);
    expect(privateKeyFromPem(sec1).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('refuses keys that are not ECDSA P-256, and unreadable PEM', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => privateKeyFromPem(privateKeyToPem(p384))).toThrow(/P-256, found ec \(secp384r1\)/);
    expect(() => checkP256(rsa)).toThrow(KeyError);
    expect(() => privateKeyFromPem('not a key')).toThrow(/unreadable private key/);
  });

  it('derives the key identifier openssl derives (SHA-1 of the public key bits)', () => {
    const { privateKey } = generateKeyPair();
    // openssl req -x509 computes the subjectKeyIdentifier itself, by RFC 5280's method (1).
    const cert = opensslOutputFile(
      ['req', '-x509', '-new', '-key', 'k.pem', '-subj', '/CN=oracle', '-days', '1', '-out', 'c.pem'],
      'c.pem',
      { 'k.pem': privateKeyToPem(privateKey) },
    );
    const text = openssl(['x509', '-in', 'c.pem', '-noout', '-ext', 'subjectKeyIdentifier'], { 'c.pem': cert }).output;
    const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(text)![1]!.replace(/:/g, '').toLowerCase();
    expect(keyIdentifier(privateKey).toString('hex')).toBe(ski);
    expect(readCertificate(fromPem(cert, 'CERTIFICATE')).subject.commonName).toBe('oracle');
  });
});
