/**
 * Joining and mutual TLS against a real manager process: tokens decide who joins and as what, the
 * manager port tells managers from workers by their certificates, and a removed node is shut out.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../proto/gen/control.js';
import { DispatcherClient } from '../../proto/gen/dispatcher.js';
import {
  createCaState,
  grpcChannelCredentials,
  joinCluster,
  joiningChannelCredentials,
  MANAGER_CHANNEL_OPTIONS,
  renewNodeCredentials,
  type NodeCredentials,
} from '../../src/manager/ca/index.js';
import { TestCluster, runShoal } from '../support/test-cluster.js';
import { waitFor } from '../support/wait-for.js';

let cluster: TestCluster;
let address: string;

beforeAll(async () => {
  cluster = await TestCluster.start({ managers: 1 });
  address = cluster.managers[0]!.address;
});

afterAll(async () => {
  await cluster?.close();
});

const token = async (role: 'worker' | 'manager'): Promise<string> => (await cluster.ok(['cluster', 'join-token', role, '-q'])).trim();

function getCluster(credentials: grpc.ChannelCredentials): Promise<unknown> {
  const client = new ControlClient(address, credentials, MANAGER_CHANNEL_OPTIONS);
  return new Promise((resolve, reject) => client.getCluster({}, (err, res) => (err ? reject(err) : resolve(res)))).finally(() => client.close());
}

describe('joining a cluster', () => {
  it('admits a worker with the worker token; its node is listed and READY', async () => {
    const node = await cluster.addNode('joined');
    const nodes = await cluster.json<{ meta?: { id?: string }; status?: { state?: string }; spec?: { desiredRole?: string } }[]>(['node', 'ls']);
    const listed = nodes.find((n) => n.meta?.id === node.id);
    expect(listed?.status?.state).toBe('NODE_STATE_READY');
  });

  it('refuses a wrong token, a rotated-away token, a token of the other role and one pinning another CA', async () => {
    const worker = await token('worker');
    const manager = await token('manager');
    await expect(joinCluster({ address, token: worker.replace(/.{6}$/, 'zzzzzz'), requestedRole: 'worker' })).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: 'invalid join token',
    });
    await expect(joinCluster({ address, token: manager, requestedRole: 'worker' })).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: 'this is a manager join token; a worker cannot join with it',
    });
    await expect(joinCluster({ address, token: worker, requestedRole: 'manager', raftAddress: '127.0.0.1:1' })).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: 'this is a worker join token; a manager cannot join with it',
    });
    await expect(joinCluster({ address, token: createCaState('elsewhere').workerJoinToken })).rejects.toThrow(/join token pins .*refusing to trust it/);

    const rotated = (await cluster.ok(['cluster', 'join-token', 'worker', '--rotate', '-q'])).trim();
    expect(rotated).not.toBe(worker);
    await expect(joinCluster({ address, token: worker })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'invalid join token' });
    expect((await joinCluster({ address, token: rotated })).role).toBe('worker');
    cluster.workerToken = rotated;
  });

  it('`shoal worker` with the manager token fails with one clear error and saves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-join-'));
    try {
      const r = await runShoal(['worker', '--join', address, '--token', await token('manager'), '--state-dir', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('this is a manager join token; a worker cannot join with it');
      expect(existsSync(join(dir, 'node-credentials.pem'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the manager port', () => {
  let workerCreds: NodeCredentials;
  beforeAll(async () => {
    workerCreds = await joinCluster({ address, token: cluster.workerToken, requestedRole: 'worker' });
  });

  it('serves Control only to managers: a worker certificate is refused, no certificate too', async () => {
    await expect(getCluster(grpcChannelCredentials(workerCreds))).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: expect.stringContaining(`node ${workerCreds.nodeId} has a worker certificate; this call needs a manager certificate`),
    });
    await expect(getCluster(joiningChannelCredentials(workerCreds.rootPem))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it('serves the CLI on TCP with a manager’s credentials (SHOAL_CERT_PATH), and says what is missing without', async () => {
    const manager = cluster.managers[0]!;
    const withCerts = await runShoal(['--host', `tcp://${address}`, 'cluster', 'info', '--format', 'json'], undefined, { SHOAL_CERT_PATH: manager.stateDir });
    expect(withCerts.code, withCerts.stderr).toBe(0);
    expect((JSON.parse(withCerts.stdout) as { managers?: unknown[] }).managers).toHaveLength(1);
    const without = await runShoal(['--host', `tcp://${address}`, 'cluster', 'info'], undefined, { SHOAL_CERT_PATH: '' });
    expect(without.code).toBe(2);
    expect(without.stderr).toContain("set SHOAL_CERT_PATH to a directory holding a manager's node-credentials.pem");
  });

  it('refuses a node session without a certificate', async () => {
    const client = new DispatcherClient(address, joiningChannelCredentials(workerCreds.rootPem), MANAGER_CHANNEL_OPTIONS);
    try {
      const code = await new Promise<number>((resolve) => {
        const call = client.session({ description: undefined });
        call.on('error', (err: grpc.ServiceError) => resolve(err.code));
        call.on('data', () => resolve(-1));
      });
      expect(code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });
});

describe('a removed node', () => {
  it('loses its session when removed while connected', async () => {
    const node = await cluster.addNode('removed-live');
    await cluster.ok(['node', 'rm', '--force', node.id]);
    await waitFor('the node to be told it was removed', () => node.status().state === 'removed', 30_000, 50);
  });

  it('cannot renew its certificate', async () => {
    const node = await cluster.addNode('removed');
    const creds = node.credentials!;
    node.kill();
    await waitFor('the node to be down', async () => {
      const nodes = await cluster.json<{ meta?: { id?: string }; status?: { state?: string } }[]>(['node', 'ls']);
      return nodes.find((n) => n.meta?.id === node.id)?.status?.state === 'NODE_STATE_DOWN';
    }, 30_000, 100);
    await cluster.ok(['node', 'rm', node.id]);
    await expect(renewNodeCredentials(creds, { address })).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: `node ${node.id} has been removed from the cluster; join it again`,
    });
  });
});
