/**
 * Joining, renewing and authorizing over real TLS on loopback: a manager port serving NodeCA and
 * nodes using the client side (node-credentials.ts) exactly as workers and joining managers will.
 */
import { status } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCsr } from '../../common/pki/csr.js';
import { generateKeyPair } from '../../common/pki/keys.js';
import { openssl } from '../../common/pki/testing/openssl.js';
import { createCaState, rotateJoinToken } from './ca-state.js';
import { MANAGER_SERVER_NAME } from './issuer.js';
import {
  issueLocalNodeCredentials,
  joinCluster,
  loadNodeCredentials,
  NODE_CREDENTIALS_FILE,
  NodeCredentialsError,
  renewalTime,
  renewIfDue,
  renewNodeCredentials,
  type NodeCredentials,
} from './node-credentials.js';
import { anonymousCaClient, callProbe, promisify, startTestManager, type TestManager } from './testing/ca-harness.js';
import { RpcError } from './rpc-error.js';
import { JoinTokenError } from './tokens.js';

let manager: TestManager;
const scratchDirs: string[] = [];

beforeAll(async () => {
  manager = await startTestManager();
});
afterAll(async () => {
  await manager.stop();
});
afterEach(() => {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-node-creds-'));
  scratchDirs.push(dir);
  return dir;
}

const join_ = (token: string, extra: Partial<Parameters<typeof joinCluster>[0]> = {}) => joinCluster({ address: manager.address, token, ...extra });

describe('joining with a token', () => {
  it('gives a worker a certificate naming a new node id, the worker role and the cluster, saved 0600', async () => {
    const dir = join(scratch(), 'state');
    const creds = await join_(manager.state.workerJoinToken, { nodeKeyDir: dir });
    expect(creds.role).toBe('worker');
    expect(creds.clusterId).toBe('cluster-test');
    expect(creds.nodeId).toMatch(/^[0-9a-z]{25}$/);
    expect(manager.joined.at(-1)).toEqual({ nodeId: creds.nodeId, role: 'worker', clusterId: 'cluster-test' });
    expect(creds.rootPem).toBe(manager.state.rootCaCertPem);
    const verified = openssl(['verify', '-CAfile', 'root.pem', '-purpose', 'sslclient', 'node.pem'], { 'root.pem': creds.rootPem, 'node.pem': creds.certPem });
    expect(verified.ok).toBe(true);

    expect(statSync(join(dir, NODE_CREDENTIALS_FILE)).mode & 0o777).toBe(0o600);
    expect(loadNodeCredentials(dir)).toEqual(creds);
  });

  it('gives a manager a manager certificate with its addresses', async () => {
    const creds = await join_(manager.state.managerJoinToken, { requestedRole: 'manager', addresses: ['127.0.0.2', 'mgr2.local'], raftAddress: '127.0.0.2:4242' });
    expect(creds.role).toBe('manager');
    const x509 = new X509Certificate(creds.certPem);
    expect(x509.subjectAltName).toBe(`DNS:${MANAGER_SERVER_NAME}, DNS:mgr2.local, IP Address:127.0.0.2`);
  });

  it('refuses a token whose secret is wrong with PERMISSION_DENIED "invalid join token"', async () => {
    const wrong = manager.state.workerJoinToken.replace(/.{5}$/, 'zzzzz');
    const joinedBefore = manager.joined.length;
    await expect(join_(wrong)).rejects.toMatchObject({ code: status.PERMISSION_DENIED, details: 'invalid join token' });
    expect(manager.joined.length).toBe(joinedBefore);
  });

  it('refuses a token that was rotated away, and accepts its replacement', async () => {
    const original = manager.state;
    const oldToken = original.workerJoinToken;
    manager.state = rotateJoinToken(original, 'worker');
    try {
      await expect(join_(oldToken)).rejects.toMatchObject({ code: status.PERMISSION_DENIED, details: 'invalid join token' });
      expect((await join_(manager.state.workerJoinToken)).role).toBe('worker');
      // The manager token was not rotated.
      expect((await join_(manager.state.managerJoinToken, { raftAddress: '127.0.0.2:4242' })).role).toBe('manager');
    } finally {
      manager.state = original;
    }
  });

  it('refuses a token for the other role when the node asked for a role', async () => {
    await expect(join_(manager.state.workerJoinToken, { requestedRole: 'manager' })).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: 'this is a worker join token; a manager cannot join with it',
    });
    await expect(join_(manager.state.managerJoinToken, { requestedRole: 'worker' })).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
    });
  });

  it('passes on a refusal from the hook that records the node, and hides other failures as INTERNAL', async () => {
    manager.joinRefusal = new RpcError(status.UNAVAILABLE, 'no leader elected; try again');
    try {
      await expect(join_(manager.state.workerJoinToken)).rejects.toMatchObject({ code: status.UNAVAILABLE, details: 'no leader elected; try again' });
      manager.joinRefusal = new Error('disk on fire');
      await expect(join_(manager.state.workerJoinToken)).rejects.toMatchObject({ code: status.INTERNAL, details: 'disk on fire' });
    } finally {
      manager.joinRefusal = undefined;
    }
  });

  it('reports a malformed token before connecting', async () => {
    await expect(joinCluster({ address: '127.0.0.1:1', token: 'SHTKN-2-abc' })).rejects.toThrow(JoinTokenError);
  });

  it('refuses to trust a manager whose root does not match the token’s digest (a MITM CA)', async () => {
    // Someone between the node and the cluster answers with a CA of its own.
    const impostor = await startTestManager({ state: createCaState('cluster-test') });
    try {
      await expect(joinCluster({ address: impostor.address, token: manager.state.workerJoinToken })).rejects.toThrow(
        /has digest [0-9a-f]{64}, but the join token pins [0-9a-f]{64}: refusing to trust it/,
      );
      expect(impostor.joined).toEqual([]);
    } finally {
      await impostor.stop();
    }
    // Likewise a token of another cluster presented to this one.
    const otherCluster = createCaState('cluster-other');
    await expect(join_(otherCluster.workerJoinToken)).rejects.toThrow(NodeCredentialsError);
  });

  it('refuses to send a CSR to a server whose certificate is not a manager’s', async () => {
    const posing = await startTestManager({ serverRole: 'worker' });
    try {
      await expect(joinCluster({ address: posing.address, token: posing.state.workerJoinToken })).rejects.toMatchObject({
        code: status.UNAVAILABLE,
        details: expect.stringMatching(/the server presented the certificate of worker manager-1, not of a manager/),
      });
      expect(posing.joined).toEqual([]);
    } finally {
      await posing.stop();
    }
  });

  it('answers malformed requests with INVALID_ARGUMENT', async () => {
    const client = anonymousCaClient(manager.address, manager.state.rootCaCertPem);
    const csrPem = createCsr({ commonName: 'x' }, generateKeyPair().privateKey);
    const issue = (request: { token: string; csrPem: string; requestedRole?: string }) =>
      promisify((cb) => client.issueNodeCertificate({ addresses: [], requestedRole: '', raftAddress: '', hostname: '', ...request }, cb));
    try {
      await expect(issue({ token: 'nonsense', csrPem })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/malformed join token/) });
      await expect(issue({ token: manager.state.workerJoinToken, csrPem: 'not a csr' })).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringMatching(/invalid certificate request/),
      });
      await expect(issue({ token: manager.state.workerJoinToken, csrPem, requestedRole: 'admin' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
      const joinedBefore = manager.joined.length;
      await expect(
        promisify((cb) => client.issueNodeCertificate({ token: manager.state.managerJoinToken, csrPem, requestedRole: '', addresses: ['no such name!'], raftAddress: '127.0.0.2:4242', hostname: '' }, cb)),
      ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/neither an IP address nor a DNS name/) });
      await expect(issue({ token: manager.state.managerJoinToken, csrPem })).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: 'a joining manager must give its Raft address as host:port, not ""',
      });
      expect(manager.joined.length).toBe(joinedBefore);
    } finally {
      client.close();
    }
  });
});

describe('renewing a certificate', () => {
  let worker: NodeCredentials;
  beforeAll(async () => {
    worker = await join_(manager.state.workerJoinToken);
  });

  it('keeps the node id and role, with a new key and certificate', async () => {
    const dir = scratch();
    const renewed = await renewNodeCredentials(worker, { address: manager.address, nodeKeyDir: dir });
    expect(renewed).toMatchObject({ nodeId: worker.nodeId, role: 'worker', clusterId: worker.clusterId });
    expect(renewed.keyPem).not.toBe(worker.keyPem);
    expect(new X509Certificate(renewed.certPem).serialNumber).not.toBe(new X509Certificate(worker.certPem).serialNumber);
    expect(loadNodeCredentials(dir)).toEqual(renewed);
  });

  it('happens only once the chosen fraction of the lifetime has passed', async () => {
    expect(await renewIfDue(worker, { address: manager.address })).toBeUndefined();
    const due = renewalTime(worker, 0.5);
    expect(due).toBeGreaterThan(worker.notBefore.getTime());
    expect(due).toBeLessThan(worker.notAfter.getTime());
    const renewed = await renewIfDue(worker, { address: manager.address, now: due + 1 });
    expect(renewed?.nodeId).toBe(worker.nodeId);
  });

  it('is refused to a node that was removed', async () => {
    const node = await join_(manager.state.workerJoinToken);
    manager.removed.add(node.nodeId);
    await expect(renewNodeCredentials(node, { address: manager.address })).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: `node ${node.nodeId} has been removed from the cluster; join it again`,
    });
  });

  it('needs a valid certificate from this cluster: none, an expired one or a foreign one is UNAUTHENTICATED', async () => {
    const client = anonymousCaClient(manager.address, manager.state.rootCaCertPem);
    const csrPem = createCsr({ commonName: 'x' }, generateKeyPair().privateKey);
    try {
      await expect(promisify((cb) => client.renewNodeCertificate({ csrPem, addresses: [] }, cb))).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    } finally {
      client.close();
    }
    const expired = issueLocalNodeCredentials(manager.state, { nodeId: worker.nodeId, role: 'worker' }, { now: Date.now() - 3_600_000, lifetimeMs: 60_000 });
    await expect(renewNodeCredentials(expired, { address: manager.address })).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    // A certificate from another CA, with that CA's root as the client's trust (so the client
    // would accept the server): the server treats the unverifiable certificate as none.
    const foreignState = createCaState('cluster-test');
    const foreign = issueLocalNodeCredentials(foreignState, { nodeId: worker.nodeId, role: 'manager' });
    const trustingReal = { ...foreign, rootPem: manager.state.rootCaCertPem };
    await expect(renewNodeCredentials(trustingReal, { address: manager.address })).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it('follows a promotion when the manager says the node’s role changed', async () => {
    const node = await join_(manager.state.workerJoinToken);
    manager.desiredRoles.set(node.nodeId, 'manager');
    const promoted = await renewNodeCredentials(node, { address: manager.address, addresses: ['127.0.0.9'] });
    expect(promoted).toMatchObject({ nodeId: node.nodeId, role: 'manager' });
    expect(new X509Certificate(promoted.certPem).checkIP('127.0.0.9')).toBe('127.0.0.9');
  });
});

describe('authorizing by role over mutual TLS', () => {
  it('lets a manager certificate call a manager-only service and refuses a worker’s with PERMISSION_DENIED', async () => {
    const managerCreds = await join_(manager.state.managerJoinToken, { raftAddress: '127.0.0.3:4242' });
    expect(await callProbe(manager.address, managerCreds)).toBe(managerCreds.nodeId);
    const workerCreds = await join_(manager.state.workerJoinToken);
    await expect(callProbe(manager.address, workerCreds)).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: `node ${workerCreds.nodeId} has a worker certificate; this call needs a manager certificate`,
    });
  });
});

describe('server credentials', () => {
  it('serve a replaced certificate to new connections', async () => {
    const before = manager.creds;
    const next = issueLocalNodeCredentials(manager.state, { nodeId: before.nodeId, role: 'manager' }, { addresses: ['127.0.0.1'] });
    manager.serverCredentials.update(next);
    try {
      const [host, port] = manager.address.split(':') as [string, string];
      const serial = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host, port: Number(port), ca: before.rootPem, servername: MANAGER_SERVER_NAME, ALPNProtocols: ['h2'] }, () => {
          resolve(socket.getPeerCertificate().serialNumber);
          socket.destroy();
        });
        socket.on('error', reject);
      });
      expect(serial).toBe(new X509Certificate(next.certPem).serialNumber);
      // Client certificates are still asked for after the swap.
      const workerCreds = await join_(manager.state.workerJoinToken);
      expect((await renewNodeCredentials(workerCreds, { address: manager.address })).nodeId).toBe(workerCreds.nodeId);
    } finally {
      manager.serverCredentials.update(before);
    }
  });
});

describe('stored credentials', () => {
  it('are refused when damaged or when the key does not match', async () => {
    const dir = scratch();
    expect(loadNodeCredentials(dir)).toBeUndefined();
    writeFileSync(join(dir, NODE_CREDENTIALS_FILE), 'garbage');
    expect(() => loadNodeCredentials(dir)).toThrow(/should hold two certificates and a private key; found 0 and 0/);
    const a = issueLocalNodeCredentials(manager.state, { nodeId: 'a', role: 'worker' });
    const b = issueLocalNodeCredentials(manager.state, { nodeId: 'b', role: 'worker' });
    writeFileSync(join(dir, NODE_CREDENTIALS_FILE), `${a.certPem}${a.rootPem}${b.keyPem}`);
    expect(() => loadNodeCredentials(dir)).toThrow(/unusable: the node key does not match its certificate/);
    const foreign = createCaState('cluster-test');
    writeFileSync(join(dir, NODE_CREDENTIALS_FILE), `${a.certPem}${foreign.rootCaCertPem}${a.keyPem}`);
    expect(() => loadNodeCredentials(dir)).toThrow(/not issued by the root CA/);
  });
});
