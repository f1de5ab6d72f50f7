import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient, type GetClusterResponse } from '../../proto/gen/control.js';
import { NodeRole, NodeState } from '../../proto/gen/objects.js';
import { FakeNodeSimulator } from '../../test/support/node-simulator.js';
import { waitFor } from '../../test/support/wait-for.js';
import { silentLogger } from '../common/logger.js';
import { Manager, type ManagerOptions } from './manager.js';

describe('Manager', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  function dir(): string {
    const d = mkdtempSync(join(tmpdir(), 'shoal-manager-'));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  }

  async function start(root: string, extra: Partial<ManagerOptions> = {}): Promise<Manager> {
    const manager = await Manager.start({
      stateDir: join(root, 'state'),
      listenAddr: '127.0.0.1:0',
      socketPath: join(root, 'run', 'shoal.sock'),
      init: false,
      logger: silentLogger,
      ...extra,
    });
    cleanups.push(() => manager.close());
    return manager;
  }

  function workerToken(socket: string): Promise<string> {
    const client = new ControlClient(`unix:${socket}`, grpc.credentials.createInsecure());
    return new Promise<string>((resolve, reject) =>
      client.getJoinToken({ role: NodeRole.NODE_ROLE_WORKER, rotate: false }, (err, res) => (err ? reject(err) : resolve(res.token))),
    ).finally(() => client.close());
  }

  function getCluster(socket: string): Promise<GetClusterResponse> {
    const client = new ControlClient(`unix:${socket}`, grpc.credentials.createInsecure());
    return new Promise<GetClusterResponse>((resolve, reject) =>
      client.getCluster({}, (err, res) => (err ? reject(err) : resolve(res))),
    ).finally(() => client.close());
  }

  it('refuses an empty state directory without --init', async () => {
    const root = dir();
    await expect(start(root)).rejects.toThrow(/holds no cluster state: start with --init to create a cluster, or --join/);
  });

  it('starts a one-manager cluster, serves Control and Dispatcher, and resumes after a restart', async () => {
    const root = dir();
    const first = await start(root, { init: true, heartbeatPeriodMs: 300 });
    await waitFor('leadership', () => first.isLeaderActive());
    expect(statSync(first.socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'run')).mode & 0o777).toBe(0o700);
    const cluster = await getCluster(first.socketPath);
    expect(cluster.cluster?.spec).toMatchObject({ heartbeatPeriodMs: 300, taskHistoryRetentionLimit: 5 });
    expect(cluster.managers).toEqual([expect.objectContaining({ raftId: first.id, addr: first.address, leader: true })]);

    expect(cluster.cluster?.ca?.clusterId).toBe(cluster.cluster?.meta?.id);
    const node = new FakeNodeSimulator({ managers: [first.address], hostname: 'n1', joinToken: await workerToken(first.socketPath) });
    cleanups.push(() => node.stop());
    await node.start();
    expect(first.store.view((tx) => tx.nodes.get(node.id)?.status?.state)).toBe(NodeState.NODE_STATE_READY);

    await first.close();
    const again = await start(root, { listenAddr: first.address });
    expect(again.id).toBe(first.id);
    await waitFor('leadership after the restart', () => again.isLeaderActive());
    expect((await getCluster(again.socketPath)).cluster?.meta?.id).toBe(cluster.cluster?.meta?.id);
    expect(again.store.view((tx) => tx.nodes.get(node.id)?.description?.hostname)).toBe('n1');
    await waitFor('the node to reconnect', () => node.status().sessionsOpened === 2);
  });

  it('will not take over the socket of a running manager', async () => {
    const root = dir();
    const running = await start(root, { init: true });
    const other = dir();
    await expect(start(other, { init: true, socketPath: running.socketPath })).rejects.toThrow(/in use by a running manager/);
  });
});
