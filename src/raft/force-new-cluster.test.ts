import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { forceNewCluster, type ForceNewClusterResult } from './force-new-cluster.js';
import { RaftNode } from './node.js';
import { loadHardState } from './recovery.js';
import { FileSnapshotStore, FileStableStore, WalLogStore } from './storage/index.js';
import type { LogStore, SnapshotStore, StableStore } from './storage/types.js';
import { addressOf, command, FAST_TIMING, KvFsm, waitFor } from './test-cluster.js';
import { InmemNetwork, type InmemTransport } from './transport/inmem.js';
import { encodeConfiguration, EntryType, RaftError, type Configuration, type Entry, type ServerId } from './types.js';

interface Stores {
  logStore: LogStore;
  stableStore: StableStore;
  snapshotStore: SnapshotStore;
}

interface Server {
  id: ServerId;
  node: RaftNode;
  fsm: KvFsm;
  transport: InmemTransport;
  stores: Stores;
}

/** Small WAL segments, so that compaction after a snapshot really drops the oldest entries. */
const SEGMENT_BYTES = 256;

/**
 * Servers on an InmemNetwork, each with its WAL, stable store and snapshots in its own directory:
 * stopping one and opening its directory again is what a manager process restarting does.
 */
class DiskCluster {
  readonly network = new InmemNetwork();
  readonly running = new Map<ServerId, Server>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'shoal-force-new-cluster-'));

  openStores(id: ServerId): Stores {
    const base = join(this.dir, id);
    return {
      logStore: new WalLogStore({ dir: join(base, 'wal'), segmentBytes: SEGMENT_BYTES }),
      stableStore: new FileStableStore({ dir: join(base, 'stable') }),
      snapshotStore: new FileSnapshotStore({ dir: join(base, 'snapshots') }),
    };
  }

  start(id: ServerId, bootstrap?: Configuration): Server {
    const stores = this.openStores(id);
    const fsm = new KvFsm();
    const transport = this.network.connect(addressOf(id));
    // trailingLogs 0: a snapshot compacts everything it covers (down to segment granularity).
    const node = new RaftNode({ ...FAST_TIMING, trailingLogs: 0, id, fsm, transport, ...stores });
    if (bootstrap) node.bootstrapCluster(bootstrap);
    node.start();
    const server = { id, node, fsm, transport, stores };
    this.running.set(id, server);
    return server;
  }

  static bootstrap(ids: ServerId[]): DiskCluster {
    const cluster = new DiskCluster();
    const configuration: Configuration = { servers: ids.map((id) => ({ id, address: addressOf(id), suffrage: 'voter' })) };
    for (const id of ids) cluster.start(id, configuration);
    return cluster;
  }

  async stop(id: ServerId): Promise<void> {
    const server = this.running.get(id);
    if (server === undefined) return;
    this.running.delete(id);
    await server.node.shutdown();
    await server.transport.close();
    server.stores.logStore.close();
  }

  /** What the manager does on --force-new-cluster: rewrite a stopped server's storage before building its node. */
  force(id: ServerId): ForceNewClusterResult {
    const stores = this.openStores(id);
    try {
      return forceNewCluster({ ...stores, self: { id, address: addressOf(id) } });
    } finally {
      stores.logStore.close();
    }
  }

  async leader(): Promise<Server> {
    let found: Server | undefined;
    await waitFor(() => {
      found = [...this.running.values()].find((s) => s.node.state() === 'leader');
      return found !== undefined;
    }, 10_000, 'a leader');
    return found!;
  }

  async shutdown(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let cluster: DiskCluster | undefined;

afterEach(async () => {
  await cluster?.shutdown();
  cluster = undefined;
});

async function writeAndReplicate(c: DiskCluster, keys: string[]): Promise<string[]> {
  const leader = await c.leader();
  for (const key of keys) await leader.node.apply(command(`${key}=${'v'.repeat(40)}`));
  const history = [...leader.fsm.history];
  await waitFor(() => [...c.running.values()].every((s) => s.fsm.history.length === history.length), 10_000, 'every server to apply');
  return history;
}

async function stopAll(c: DiskCluster): Promise<void> {
  for (const id of [...c.running.keys()]) await c.stop(id);
}

/** Restarts the forced server alone and checks it leads a cluster of itself with all its data. */
async function startAlone(c: DiskCluster, id: ServerId, history: string[]): Promise<Server> {
  const server = c.start(id);
  await waitFor(() => server.node.state() === 'leader', 10_000, `${id} to lead alone`);
  expect(server.node.getConfiguration().configuration).toEqual({ servers: [{ id, address: addressOf(id), suffrage: 'voter' }] });
  await server.node.barrier();
  expect(server.fsm.history).toEqual(history);
  return server;
}

/** A server with empty storage joins as a voter and catches up with everything. */
async function addFreshVoter(c: DiskCluster, leader: Server, id: ServerId): Promise<Server> {
  const joiner = c.start(id);
  await leader.node.addVoter(id, addressOf(id));
  await leader.node.apply(command('joined=1'));
  await waitFor(() => joiner.fsm.history.length === leader.fsm.history.length, 10_000, `${id} to catch up`);
  expect(joiner.fsm.history).toEqual(leader.fsm.history);
  expect(leader.node.getConfiguration().configuration.servers.map((s) => [s.id, s.suffrage])).toEqual([
    [leader.id, 'voter'],
    [id, 'voter'],
  ]);
  return joiner;
}

describe('forceNewCluster', () => {
  it('makes the survivor of a three-server cluster the only voter: it leads alone with all its data, commits writes and takes in a new voter', async () => {
    cluster = DiskCluster.bootstrap(['a', 'b', 'c']);
    const history = await writeAndReplicate(cluster, ['k0', 'k1', 'k2', 'k3', 'k4']);
    const termBefore = cluster.running.get('b')!.node.stats().term;
    await stopAll(cluster);

    const result = cluster.force('b');
    expect(result.changed).toBe(true);
    expect(result.previous.servers.map((s) => s.id)).toEqual(['a', 'b', 'c']);

    const survivor = await startAlone(cluster, 'b', history);
    expect(survivor.node.stats().term).toBeGreaterThan(termBefore);
    const { response } = await survivor.node.apply(command('k0=after'));
    expect(response).toBe('v'.repeat(40));
    await addFreshVoter(cluster, survivor, 'd');
  });

  it('recovers a server whose configuration lives only in its snapshot, the log compacted past it', async () => {
    cluster = DiskCluster.bootstrap(['a', 'b', 'c']);
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    await writeAndReplicate(cluster, keys);
    const c = cluster.running.get('c')!;
    const snapshot = await c.node.snapshot();
    expect(snapshot.configurationIndex).toBe(1);
    // The bootstrap configuration (entry 1) is no longer in the log: only the snapshot records it.
    expect(c.stores.logStore.firstIndex()).toBeGreaterThan(1);
    const history = await writeAndReplicate(cluster, ['after-snapshot']);
    await stopAll(cluster);

    expect(cluster.force('c').changed).toBe(true);
    const survivor = await startAlone(cluster, 'c', history);
    // The new voter needs the snapshot: the entries before it are gone from the survivor's log.
    const joiner = await addFreshVoter(cluster, survivor, 'e');
    expect(joiner.node.stats().snapshotsInstalled).toBe(1);
  });

  it('commits the entries the survivor had appended but the old cluster never committed', async () => {
    cluster = DiskCluster.bootstrap(['a', 'b', 'c']);
    const committed = await writeAndReplicate(cluster, ['k0', 'k1']);
    const leader = await cluster.leader();
    cluster.network.disconnect(addressOf(leader.id));
    const lastIndex = leader.stores.logStore.lastIndex();
    const pending = leader.node.apply(command('orphan=1')).catch((err: unknown) => err);
    await waitFor(() => leader.stores.logStore.lastIndex() > lastIndex, 10_000, 'the isolated leader to persist its entry');
    await stopAll(cluster);
    expect(await pending).toBeInstanceOf(RaftError);

    expect(cluster.force(leader.id).changed).toBe(true);
    await startAlone(cluster, leader.id, [...committed, 'orphan=1']);
  });

  it('supersedes an uncommitted configuration change, takes a term above any seen, and changes nothing when run again', async () => {
    cluster = new DiskCluster();
    const stores = cluster.openStores('a');
    const three: Configuration = { servers: ['a', 'b', 'c'].map((id) => ({ id, address: addressOf(id), suffrage: 'voter' })) };
    const four: Configuration = { servers: [...three.servers, { id: 'd', address: addressOf('d'), suffrage: 'nonvoter' }] };
    const entries: Entry[] = [
      { index: 1, term: 1, type: EntryType.Configuration, data: encodeConfiguration(three) },
      { index: 2, term: 1, type: EntryType.Command, data: command('x=1') },
      { index: 3, term: 2, type: EntryType.Command, data: command('y=2') },
      { index: 4, term: 2, type: EntryType.Configuration, data: encodeConfiguration(four) },
    ];
    stores.stableStore.set({ term: '3', vote: 'b' });
    stores.logStore.storeLogs(entries);
    stores.logStore.sync();

    // First on the open stores, as a manager does before building its node on them; then on reopened ones.
    const first = forceNewCluster({ ...stores, self: { id: 'a', address: addressOf('a') } });
    expect(first).toEqual({ changed: true, previous: four });
    expect(stores.logStore.getLog(5)).toMatchObject({ index: 5, term: 4, type: EntryType.Configuration });
    stores.logStore.close();
    const second = cluster.force('a');
    expect(second.changed).toBe(false);

    const after = cluster.openStores('a');
    expect(loadHardState(after.stableStore)).toEqual({ term: 4, vote: 'a' });
    expect(after.logStore.lastIndex()).toBe(5);
    expect(after.logStore.getLog(5)).toMatchObject({ term: 4, type: EntryType.Configuration });
    after.logStore.close();

    await startAlone(cluster, 'a', ['x=1', 'y=2']);
  });

  it('refuses storage that holds no Raft state, and writes nothing to it', () => {
    cluster = new DiskCluster();
    expect(() => cluster!.force('a')).toThrow(RaftError);
    expect(() => cluster!.force('a')).toThrow(/no Raft log or snapshot/);
    const stores = cluster.openStores('a');
    expect(loadHardState(stores.stableStore)).toEqual({ term: 0, vote: '' });
    expect(stores.logStore.lastIndex()).toBe(0);
    stores.logStore.close();
  });
});
