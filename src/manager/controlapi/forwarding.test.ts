/**
 * Followers pass Control calls on to the leader: three managers, Raft on an InmemNetwork whose
 * addresses are the managers' Control sockets (as in production, where a manager serves Control on
 * its Raft address), each with its store as the Raft FSM and a real gRPC server.
 */
import { join } from 'node:path';
import { Metadata, status, type Server } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../../proto/gen/control.js';
import { ServiceSpec } from '../../../proto/gen/objects.js';
import { silentLogger } from '../../common/logger.js';
import { RaftNode } from '../../raft/node.js';
import { InmemLogStore, InmemSnapshotStore, InmemStableStore } from '../../raft/storage/index.js';
import { FAST_TIMING, waitFor } from '../../raft/test-cluster.js';
import { InmemNetwork, type InmemTransport } from '../../raft/transport/inmem.js';
import type { Configuration } from '../../raft/types.js';
import { StoreFsm } from '../../store/fsm.js';
import { RaftProposer } from '../../store/raft-proposer.js';
import { ReplicatedStore } from '../../store/replicated-store.js';
import { createControlService } from './control-service.js';
import { FORWARDED_METADATA, LeaderForwarder } from '../leader-forwarder.js';
import { callControl, controlClient, serveControl, socketDir, stopServer } from './testing/control-harness.js';

interface Manager {
  id: string;
  socket: string;
  node: RaftNode;
  transport: InmemTransport;
  store: ReplicatedStore;
  forwarder: LeaderForwarder;
  server: Server;
  client: ControlClient;
  stopped: boolean;
}

const IDS = ['m1', 'm2', 'm3'];
/** How long a leader waits for a quorum to confirm a read. */
const READ_TIMEOUT_MS = 500;
let managers: Manager[];
let network: InmemNetwork;
let cleanup: () => void;

beforeEach(async () => {
  const dirs = socketDir();
  cleanup = dirs.cleanup;
  network = new InmemNetwork();
  const configuration: Configuration = {
    servers: IDS.map((id) => ({ id, address: `unix://${join(dirs.dir, `${id}.sock`)}`, suffrage: 'voter' })),
  };
  managers = [];
  for (const { id, address } of configuration.servers) {
    const fsm = new StoreFsm();
    const transport = network.connect(address);
    const node = new RaftNode({
      ...FAST_TIMING,
      // A leader cut off from the others goes on believing it leads, as one on the wrong side of
      // a partition does until its lease runs out: what reads must not trust.
      checkQuorum: false,
      id,
      fsm,
      transport,
      logStore: new InmemLogStore(),
      stableStore: new InmemStableStore(),
      snapshotStore: new InmemSnapshotStore(),
    });
    const store = new ReplicatedStore({ fsm, proposer: new RaftProposer(node) });
    const forwarder = new LeaderForwarder({ raft: node, waitForLeaderMs: 10_000 });
    const socket = address.slice('unix://'.length);
    const confirmRead = (): Promise<void> => new RaftProposer(node, READ_TIMEOUT_MS).confirmRead();
    const impl = createControlService({ store, raft: node, raftId: id, forwarder, confirmRead, logger: silentLogger });
    const server = await serveControl(impl, socket);
    node.bootstrapCluster(configuration);
    node.start();
    managers.push({ id, socket, node, transport, store, forwarder, server, client: controlClient(socket), stopped: false });
  }
});

afterEach(async () => {
  for (const manager of managers) await stop(manager);
  cleanup();
});

async function stop(manager: Manager): Promise<void> {
  if (manager.stopped) return;
  manager.stopped = true;
  manager.client.close();
  manager.forwarder.close();
  await stopServer(manager.server);
  await manager.node.shutdown();
  await manager.transport.close();
}

async function leaderAndFollower(among = managers): Promise<{ leader: Manager; follower: Manager }> {
  let leader: Manager | undefined;
  await waitFor(
    () => {
      leader = among.find((m) => m.node.state() === 'leader');
      return leader !== undefined && among.every((m) => m.node.leader()?.id === leader!.id);
    },
    10_000,
    'a leader every manager knows',
  );
  return { leader: leader!, follower: among.find((m) => m !== leader)! };
}

const webSpec = ServiceSpec.fromPartial({
  annotations: { name: 'web' },
  task: { container: { image: 'nginx:1.25' } },
  mode: { $case: 'replicated', replicated: { replicas: 2 } },
});

describe('forwarding to the leader', () => {
  it('carries out a follower\'s calls on the leader, reads included', async () => {
    const { leader, follower } = await leaderAndFollower();
    expect((await callControl(follower.client, 'getCluster', {})).answeredBy).toBe(leader.id);

    const { service } = await callControl(follower.client, 'createService', { spec: webSpec });
    expect(service?.spec?.annotations?.name).toBe('web');
    // Written on the leader and replicated: every manager's store holds it.
    await waitFor(() => managers.every((m) => m.store.view((tx) => tx.services.byName('web') !== undefined)), 10_000, 'replication');

    const { services } = await callControl(follower.client, 'listServices', { names: [], labels: {} });
    expect(services.map((s) => s.meta?.id)).toEqual([service?.meta?.id]);
  });

  it('passes the leader\'s refusals back unchanged', async () => {
    const { follower } = await leaderAndFollower();
    await expect(callControl(follower.client, 'getService', { id: 'nope' })).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: 'service nope not found',
    });
    const bad = ServiceSpec.fromPartial({ ...webSpec, annotations: { name: '-web' } });
    await expect(callControl(follower.client, 'createService', { spec: bad })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^invalid spec: annotations\.name: "-web"/),
    });
  });

  it('never forwards a forwarded call a second time', async () => {
    const { follower } = await leaderAndFollower();
    const metadata = new Metadata();
    metadata.set(FORWARDED_METADATA, '1');
    await expect(callControl(follower.client, 'getCluster', {}, metadata)).rejects.toMatchObject({
      code: status.UNAVAILABLE,
      details: `manager ${follower.id} was forwarded a call but is not the leader; try again`,
    });
  });

  it('never answers a read from a leader the others have replaced', async () => {
    const { leader: old } = await leaderAndFollower();
    network.disconnect(`unix://${old.socket}`);
    const others = managers.filter((m) => m !== old);
    const { leader } = await leaderAndFollower(others);
    await callControl(leader.client, 'createService', { spec: webSpec });

    // The old leader still believes it leads, and its store has never seen the service.
    expect(old.node.state()).toBe('leader');
    expect(old.store.view((tx) => tx.services.byName('web'))).toBeUndefined();
    await expect(callControl(old.client, 'listServices', { names: [], labels: {} })).rejects.toMatchObject({ code: status.UNAVAILABLE });

    // Back in touch, it learns of the new term and passes the read on.
    network.reconnect(`unix://${old.socket}`);
    await waitFor(() => old.node.state() === 'follower', 10_000, 'the old leader to step down');
    const { services } = await callControl(old.client, 'listServices', { names: [], labels: {} });
    expect(services.map((s) => s.spec?.annotations?.name)).toEqual(['web']);
  });

  it('follows the leadership to the new leader after the old one stops', async () => {
    const { leader } = await leaderAndFollower();
    await stop(leader);
    const survivors = managers.filter((m) => m !== leader);
    // Call a survivor at once: it waits out the election, then answers from the new leader.
    const { service } = await callControl(survivors[0].client, 'createService', { spec: webSpec });
    const { leader: newLeader } = await leaderAndFollower(survivors);
    expect(newLeader.id).not.toBe(leader.id);
    expect(newLeader.store.view((tx) => tx.services.get(service!.meta!.id))).toBeDefined();
    expect((await callControl(survivors[1].client, 'getCluster', {})).answeredBy).toBe(newLeader.id);
  });
});
