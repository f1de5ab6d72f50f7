import { describe, expect, it } from 'vitest';
import { createCsr, CsrError, CSR_PEM_LABEL, parseCsr } from './csr.js';
import { generateKeyPair, privateKeyToPem, samePublicKey } from './keys.js';
import { fromPem, toPem } from './pem.js';
import { openssl, opensslOutputFile } from './testing/openssl.js';

describe('certificate signing requests', () => {
  it('are built so that openssl verifies their self-signature and reads the subject', () => {
    const { privateKey, publicKey } = generateKeyPair();
    const pem = createCsr({ commonName: 'node-7' }, privateKey);
    const { ok, output } = openssl(['req', '-in', 'r.pem', '-verify', '-noout', '-subject'], { 'r.pem': pem });
    expect(ok).toBe(true);
    expect(output).toMatch(/verify OK/);
    expect(output).toMatch(/subject=CN = node-7/);
    const parsed = parseCsr(pem);
    expect(parsed.subject).toEqual({ commonName: 'node-7' });
    expect(samePublicKey(parsed.publicKey, publicKey)).toBe(true);
  });

  it('written by openssl are parsed and verified', () => {
    const { privateKey, publicKey } = generateKeyPair();
    const pem = opensslOutputFile(['req', '-new', '-key', 'k.pem', '-subj', '/O=org/OU=unit/CN=from-openssl', '-sha256', '-out', 'r.pem'], 'r.pem', {
      'k.pem': privateKeyToPem(privateKey),
    });
    const parsed = parseCsr(pem);
    expect(parsed.subject).toEqual({ commonName: 'from-openssl', organizationalUnit: 'unit', organization: 'org' });
    expect(samePublicKey(parsed.publicKey, publicKey)).toBe(true);
  });

  it('are refused when tampered with, signed another way, or not a CSR', () => {
    const { privateKey } = generateKeyPair();
    const der = fromPem(createCsr({ commonName: 'node-7' }, privateKey), CSR_PEM_LABEL);
    // Change one letter of the CN: the signature no longer covers what the request says.
    const at = der.indexOf(Buffer.from('node-7'));
    const tampered = Buffer.from(der);
    tampered[at + 5] = '8'.charCodeAt(0);
    expect(() => parseCsr(toPem(CSR_PEM_LABEL, tampered))).toThrow(/signature does not verify/);

    const rsaCsr = opensslOutputFile(
      ['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'k.pem', '-subj', '/CN=rsa', '-out', 'r.pem'],
      'r.pem',
    );
    expect(() => parseCsr(rsaCsr)).toThrow(/unsupported signature algorithm/);

    expect(() => parseCsr('hello')).toThrow(/found 0/);
    expect(() => parseCsr(toPem(CSR_PEM_LABEL, Buffer.from('3003020100', 'hex')))).toThrow(CsrError);
    expect(() => parseCsr(toPem(CSR_PEM_LABEL, der.subarray(0, der.length - 3)))).toThrow(/malformed certificate request/);
  });
});
