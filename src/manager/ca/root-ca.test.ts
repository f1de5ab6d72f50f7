import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCertificate } from '../../common/pki/certificate.js';
import { fromPem } from '../../common/pki/pem.js';
import { openssl } from '../../common/pki/testing/openssl.js';
import { testCa, testLeaf } from '../../common/pki/testing/fixtures.js';
import { certificateDigest, createRootCA, loadRootCA, ROOT_CA_CERT_FILE, ROOT_CA_KEY_FILE, rootCAFromPem, saveRootCA } from './root-ca.js';
import { privateKeyToPem } from '../../common/pki/keys.js';

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-root-ca-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('root CA', () => {
  it('is a self-signed P-256 CA named shoal-root-ca, valid for 20 years', () => {
    const now = Date.UTC(2026, 2, 4, 5, 6, 7);
    const ca = createRootCA(now);
    const fields = readCertificate(ca.certificate);
    expect(fields.subject).toEqual({ commonName: 'shoal-root-ca' });
    expect(fields.notBefore.getTime()).toBe(now);
    expect(fields.notAfter.getTime()).toBe(Date.UTC(2046, 2, 4, 5, 6, 7));
    const text = openssl(['x509', '-in', 'ca.pem', '-noout', '-text'], { 'ca.pem': ca.certPem }).output;
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toMatch(/NIST CURVE: P-256/);
  });

  it('has the digest openssl computes over its DER form', () => {
    const ca = createRootCA();
    const der = fromPem(ca.certPem, 'CERTIFICATE');
    const { output } = openssl(['dgst', '-sha256', '-r', 'ca.der'], { 'ca.der': der });
    expect(ca.digest).toBe(output.split(' ')[0]);
    expect(certificateDigest(ca.certPem)).toBe(ca.digest);
    expect(ca.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('saves with a private key file and loads back the same CA', () => {
    const dir = join(scratch(), 'ca');
    expect(loadRootCA(dir)).toBeUndefined();
    const ca = createRootCA();
    saveRootCA(dir, ca);
    expect(statSync(join(dir, ROOT_CA_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, ROOT_CA_CERT_FILE)).mode & 0o777).toBe(0o644);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const loaded = loadRootCA(dir)!;
    expect(loaded.digest).toBe(ca.digest);
    expect(loaded.keyPem).toBe(ca.keyPem);
  });

  it('refuses half a CA, a key that does not match, and a certificate that is not a self-signed CA', () => {
    const dir = scratch();
    const ca = createRootCA();
    writeFileSync(join(dir, ROOT_CA_CERT_FILE), ca.certPem);
    expect(() => loadRootCA(dir)).toThrow(/only half of a root CA/);
    writeFileSync(join(dir, ROOT_CA_KEY_FILE), createRootCA().keyPem);
    expect(() => loadRootCA(dir)).toThrow(/unusable: the root CA key does not match its certificate/);

    const other = testCa();
    const leaf = testLeaf(other);
    expect(() => rootCAFromPem(leaf.certificate.pem, leaf.keyPem)).toThrow(/not a CA certificate/);
    expect(() => rootCAFromPem(ca.certPem, privateKeyToPem(other.privateKey))).toThrow(/does not match/);
  });
});
