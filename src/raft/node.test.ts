import { afterEach, describe, expect, it } from 'vitest';
import type { Observation } from './observations.js';
import { addressOf, command, TestCluster, waitFor, type TestServer } from './test-cluster.js';
import { RaftError, type ServerId } from './types.js';

let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.shutdown();
  cluster = undefined;
});

async function threeNodes(options: ConstructorParameters<typeof TestCluster>[0] = {}): Promise<{ c: TestCluster; leader: TestServer; followers: TestServer[] }> {
  cluster = await TestCluster.bootstrap(['a', 'b', 'c'], options);
  const leader = await cluster.waitForLeader();
  const followers = [...cluster.servers.values()].filter((s) => s !== leader);
  return { c: cluster, leader, followers };
}

async function rejection(p: Promise<unknown>): Promise<RaftError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RaftError) return err;
    throw err;
  }
  throw new Error('expected a RaftError, but the call succeeded');
}

/** Starts an empty server that knows nothing of the cluster: it learns the leader's address from its messages. */
function joiner(c: TestCluster, id: ServerId): TestServer {
  const server = c.add(id);
  server.node.start();
  return server;
}

describe('RaftNode', () => {
  it('elects one leader and replicates commands to every follower in the same order', async () => {
    const { leader, followers } = await threeNodes();
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await leader.node.apply(command(`k${i % 2}=v${i}`)));

    expect(results.map((r) => r.response)).toEqual([null, null, 'v0', 'v1', 'v2']);
    expect(results.map((r) => r.index)).toEqual([...results.map((r) => r.index)].sort((x, y) => x - y));
    const lastIndex = results[4].index;
    for (const f of followers) {
      await waitFor(() => f.node.stats().appliedIndex >= lastIndex, 10_000, `${f.id} to apply`);
      expect(f.fsm.history).toEqual(leader.fsm.history);
      expect(f.node.leader()).toEqual({ id: leader.id, address: leader.address });
    }
    expect(leader.fsm.history).toEqual(['k0=v0', 'k1=v1', 'k0=v2', 'k1=v3', 'k0=v4']);
  });

  it('batches concurrent applies into few fsyncs (group commit)', async () => {
    const { leader } = await threeNodes();
    const before = leader.node.stats();
    const applies = Array.from({ length: 50 }, (_, i) => leader.node.apply(command(`batch=${i}`)));
    await Promise.all(applies);
    const after = leader.node.stats();
    expect(after.entriesPersisted - before.entriesPersisted).toBe(50);
    expect(after.fsyncs - before.fsyncs).toBeLessThan(50);
    expect(leader.fsm.data.get('batch')).toBe('49');
  });

  it('refuses calls on a follower with NotLeader and a hint of the leader', async () => {
    const { leader, followers } = await threeNodes();
    const follower = followers[0];
    await waitFor(() => follower.node.leader()?.id === leader.id);
    const calls = [
      follower.node.apply(command('x=1')),
      follower.node.barrier(),
      follower.node.readIndex(),
      follower.node.verifyLeader(),
      follower.node.addVoter('z', addressOf('z')),
      follower.node.leadershipTransfer(),
    ];
    for (const call of calls) {
      const err = await rejection(call);
      expect(err.code).toBe('NotLeader');
      expect(err.leader).toEqual({ id: leader.id, address: leader.address });
    }
  });

  it('barrier resolves once every earlier command is applied', async () => {
    const { leader } = await threeNodes();
    const writes = [leader.node.apply(command('a=1')), leader.node.apply(command('b=2'))];
    const barrier = await leader.node.barrier();
    const indexes = await Promise.all(writes);
    expect(barrier.index).toBeGreaterThan(indexes[1].index);
    expect(leader.node.stats().appliedIndex).toBeGreaterThanOrEqual(barrier.index);
    expect(leader.fsm.data.get('b')).toBe('2');
  });

  it('readIndex returns a point at which earlier writes are visible; verifyLeader confirms leadership', async () => {
    const { leader } = await threeNodes();
    const write = await leader.node.apply(command('read=me'));
    const readPoint = await leader.node.readIndex();
    expect(readPoint).toBeGreaterThanOrEqual(write.index);
    expect(leader.fsm.data.get('read')).toBe('me');
    await expect(leader.node.verifyLeader()).resolves.toBeUndefined();
  });

  it('adds a voter and a nonvoter, demotes and removes servers', async () => {
    const { c, leader } = await threeNodes();
    await leader.node.apply(command('before=join'));
    const d = joiner(c, 'd');
    const e = joiner(c, 'e');

    const addD = await leader.node.addVoter('d', d.address);
    const addE = await leader.node.addNonvoter('e', e.address);
    expect(addE.index).toBeGreaterThan(addD.index);
    let config = leader.node.getConfiguration();
    expect(config.index).toBe(addE.index);
    expect(config.configuration.servers.find((s) => s.id === 'd')?.suffrage).toBe('voter');
    expect(config.configuration.servers.find((s) => s.id === 'e')?.suffrage).toBe('nonvoter');
    await waitFor(() => d.fsm.data.get('before') === 'join' && e.fsm.data.get('before') === 'join', 10_000, 'joiners to catch up');

    await leader.node.demoteVoter('d');
    await leader.node.removeServer('e', leader.node.getConfiguration().index);
    config = leader.node.getConfiguration();
    expect(config.configuration.servers.find((s) => s.id === 'd')?.suffrage).toBe('nonvoter');
    expect(config.configuration.servers.some((s) => s.id === 'e')).toBe(false);
    expect(leader.node.stats().numPeers).toBe(3);

    const stale = await rejection(leader.node.removeServer('d', 1));
    expect(stale.code).toBe('ConfigurationMismatch');
  });

  it('queues concurrent membership changes and applies them one after another', async () => {
    const { c, leader } = await threeNodes();
    const d = joiner(c, 'd');
    const e = joiner(c, 'e');
    const [addD, addE] = await Promise.all([
      leader.node.addNonvoter('d', d.address),
      leader.node.addNonvoter('e', e.address),
    ]);
    expect(addE.index).toBeGreaterThan(addD.index);
    expect(leader.node.getConfiguration().configuration.servers.map((s) => s.id).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('a leader that removes itself steps down and the others elect a new leader', async () => {
    const { c, leader, followers } = await threeNodes();
    await leader.node.removeServer(leader.id);
    await waitFor(() => leader.node.state() !== 'leader', 10_000, 'old leader to step down');
    const next = await c.waitForLeader(followers.map((f) => f.id));
    expect(next.id).not.toBe(leader.id);
    const { response } = await next.node.apply(command('after=removal'));
    expect(response).toBeNull();
    expect(next.node.getConfiguration().configuration.servers.map((s) => s.id).sort()).toEqual(followers.map((f) => f.id).sort());
  });

  it('transfers leadership to a chosen server', async () => {
    const { c, leader, followers } = await threeNodes();
    await leader.node.apply(command('t=1'));
    const target = followers[1];
    await leader.node.leadershipTransfer(target.id);
    const next = await c.waitForLeader();
    expect(next.id).toBe(target.id);
    expect(leader.node.state()).toBe('follower');
    expect((await next.node.apply(command('t=2'))).response).toBe('1');
  });

  it('takes a snapshot, compacts the log and catches a new server up with InstallSnapshot', async () => {
    const { c, leader } = await threeNodes({ node: { trailingLogs: 2 } });
    for (let i = 0; i < 20; i++) await leader.node.apply(command(`s${i}=${i}`));
    const meta = await leader.node.snapshot();
    expect(meta.index).toBe(leader.node.stats().appliedIndex);
    expect(meta.configuration.servers.map((s) => s.id).sort()).toEqual(['a', 'b', 'c']);
    expect(leader.node.stats().lastSnapshotIndex).toBe(meta.index);
    expect(leader.node.entry(1)).toBeUndefined();
    expect(leader.node.inspect().firstIndex).toBe(meta.index - 1);
    await expect(rejection(leader.node.snapshot())).resolves.toMatchObject({ code: 'NothingNewToSnapshot' });

    await leader.node.apply(command('after=snapshot'));
    const d = joiner(c, 'd');
    await leader.node.addNonvoter('d', d.address);
    await waitFor(() => d.fsm.data.get('after') === 'snapshot', 10_000, 'new server to catch up');
    expect(d.node.stats().snapshotsInstalled).toBe(1);
    expect(d.node.stats().lastSnapshotIndex).toBe(meta.index);
    expect(d.fsm.history).toEqual(leader.fsm.history);
    expect(d.stores.snapshotStore.list()[0]).toMatchObject({ index: meta.index, term: meta.term });
  });

  it('takes automatic snapshots once enough entries were applied', async () => {
    const { leader } = await threeNodes({ node: { snapshotThreshold: 5, snapshotIntervalMs: 20, trailingLogs: 1 } });
    for (let i = 0; i < 8; i++) await leader.node.apply(command(`auto=${i}`));
    await waitFor(() => leader.node.stats().snapshotsTaken > 0, 10_000, 'an automatic snapshot');
    expect(leader.node.stats().lastSnapshotIndex).toBeGreaterThanOrEqual(5);
  });

  it('fires observations for leader and role changes', async () => {
    cluster = new TestCluster();
    const seen = new Map<ServerId, Observation[]>();
    for (const id of ['a', 'b', 'c']) {
      const s = cluster.add(id);
      const list: Observation[] = [];
      seen.set(id, list);
      s.node.observe((o) => list.push(o));
    }
    const servers = ['a', 'b', 'c'].map((id) => ({ id, address: addressOf(id), suffrage: 'voter' as const }));
    for (const s of cluster.servers.values()) {
      s.node.bootstrapCluster({ servers });
      s.node.start();
    }
    const leader = await cluster.waitForLeader();

    const leaderSaw = seen.get(leader.id)!;
    expect(leaderSaw).toContainEqual(expect.objectContaining({ type: 'role', role: 'leader' }));
    for (const list of seen.values()) {
      expect(list).toContainEqual(
        expect.objectContaining({ type: 'leader', leader: { id: leader.id, address: leader.address } }),
      );
    }
    await cluster.stop(leader.id);
    expect(leaderSaw.at(-1)).toMatchObject({ type: 'role', role: 'shutdown' });
  });

  it('fails pending futures with LeadershipLost when the leader loses its quorum', async () => {
    const { c, leader } = await threeNodes();
    c.network.disconnect(leader.address);
    const err = await rejection(leader.node.apply(command('lost=1')));
    expect(err.code).toBe('LeadershipLost');
    expect(leader.node.state()).not.toBe('leader');
  });

  it('times out a read that cannot be confirmed', async () => {
    const { c, leader } = await threeNodes();
    c.network.disconnect(leader.address);
    const err = await rejection(leader.node.verifyLeader(1));
    expect(err.code).toBe('Timeout');
  });

  it('fails pending futures with Shutdown and refuses calls after shutdown', async () => {
    const { c, leader } = await threeNodes();
    c.network.disconnect(leader.address);
    const pending = leader.node.apply(command('never=1'));
    await leader.node.shutdown();
    expect((await rejection(pending)).code).toBe('Shutdown');
    expect((await rejection(leader.node.apply(command('x=1')))).code).toBe('Shutdown');
    expect(leader.node.state()).toBe('shutdown');
  });

  it('bootstraps only a server without state', async () => {
    const { leader } = await threeNodes();
    expect(() => leader.node.bootstrapCluster({ servers: [{ id: 'a', address: addressOf('a'), suffrage: 'voter' }] })).toThrow(
      expect.objectContaining({ code: 'InvalidArgument' }),
    );
    const fresh = new TestCluster();
    try {
      const s = fresh.add('solo');
      expect(() => s.node.bootstrapCluster({ servers: [] })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    } finally {
      await fresh.shutdown();
    }
  });

  it('a single-server cluster elects itself and serves writes and reads', async () => {
    cluster = await TestCluster.bootstrap(['solo']);
    const solo = await cluster.waitForLeader();
    const { index, response } = await solo.node.apply(command('one=1'));
    expect(response).toBeNull();
    expect(await solo.node.readIndex()).toBeGreaterThanOrEqual(index);
    expect(solo.node.stats()).toMatchObject({ state: 'leader', numPeers: 0, leader: 'solo' });
  });
});
