/**
 * The store on real Raft: three RaftNodes on the in-memory network, each applying to its own
 * StoreFsm. Writes go through the leader's store and appear in every manager's store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TaskState } from '../../proto/gen/objects.js';
import { RaftNode } from '../raft/node.js';
import { InmemLogStore, InmemSnapshotStore, InmemStableStore } from '../raft/storage/index.js';
import { FAST_TIMING, addressOf, waitFor } from '../raft/test-cluster.js';
import { InmemNetwork } from '../raft/transport/inmem.js';
import type { Configuration } from '../raft/types.js';
import { StoreFsm } from './fsm.js';
import { RaftProposer } from './raft-proposer.js';
import { ReplicatedStore } from './replicated-store.js';
import { makeService, makeTask } from './testing/fixtures.js';
import { NotLeaderError, type ReadTx } from './types.js';

interface Manager {
  id: string;
  node: RaftNode;
  fsm: StoreFsm;
  store: ReplicatedStore;
}

let managers: Manager[] = [];

afterEach(async () => {
  for (const m of managers) await m.node.shutdown();
  managers = [];
});

function startManagers(ids: string[], network: InmemNetwork): Manager[] {
  const configuration: Configuration = { servers: ids.map((id) => ({ id, address: addressOf(id), suffrage: 'voter' })) };
  return ids.map((id) => {
    const fsm = new StoreFsm();
    const node = new RaftNode({
      ...FAST_TIMING,
      trailingLogs: 2,
      id,
      fsm,
      transport: network.connect(addressOf(id)),
      logStore: new InmemLogStore(),
      stableStore: new InmemStableStore(),
      snapshotStore: new InmemSnapshotStore(),
    });
    node.bootstrapCluster(configuration);
    node.start();
    return { id, node, fsm, store: new ReplicatedStore({ fsm, proposer: new RaftProposer(node) }) };
  });
}

async function agreedLeader(among: Manager[]): Promise<Manager> {
  let leader: Manager | undefined;
  await waitFor(
    () => {
      const leaders = among.filter((m) => m.node.state() === 'leader');
      leader = leaders.length === 1 && among.every((m) => m.node.leader()?.id === leaders[0].id) ? leaders[0] : undefined;
      return leader !== undefined;
    },
    10_000,
    'an agreed leader',
  );
  return leader!;
}

function contents(tx: ReadTx): unknown {
  return {
    services: tx.services.all(),
    tasks: [...tx.tasks.all()].sort((a, b) => a.slot - b.slot),
    byName: tx.services.byName('web')?.meta?.id,
    pending: tx.tasks.pending().length,
    onNode: tx.tasks.byNode('n1').length,
  };
}

describe('ReplicatedStore on Raft', () => {
  it('applies the leader’s writes on every manager alike; a follower’s update rejects with NotLeaderError', async () => {
    const network = new InmemNetwork();
    managers = startManagers(['m1', 'm2', 'm3'], network);
    const leader = await agreedLeader(managers);
    const followers = managers.filter((m) => m !== leader);

    const service = makeService('web', 3);
    await leader.store.update((tx) => {
      tx.services.create(service);
      for (let slot = 1; slot <= 3; slot++) tx.tasks.create(makeTask({ serviceId: service.meta!.id, slot }));
    });
    await Promise.all(
      leader.store.view((tx) => tx.tasks.pending()).map((t) =>
        leader.store.update((tx) => tx.tasks.update({ ...t, nodeId: 'n1', status: { ...t.status!, state: TaskState.TASK_STATE_ASSIGNED } })),
      ),
    );
    const index = leader.store.appliedIndex();
    for (const f of followers) await waitFor(() => f.store.appliedIndex() >= index, 10_000, `${f.id} to apply`);
    const expected = leader.store.view(contents);
    expect(expected).toMatchObject({ byName: service.meta!.id, pending: 0, onNode: 3 });
    for (const f of followers) {
      expect(f.store.view(contents)).toEqual(expected);
      expect(f.fsm.snapshot()).toEqual(leader.fsm.snapshot());
    }

    const err = await followers[0].store.update((tx) => tx.tasks.create(makeTask())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader?.id).toBe(leader.id);
    expect(followers[0].store.view((tx) => tx.tasks.count())).toBe(3);
  });

  it('brings a manager that fell behind the log up to date from a snapshot, telling restore listeners', async () => {
    const network = new InmemNetwork();
    managers = startManagers(['m1', 'm2', 'm3'], network);
    const leader = await agreedLeader(managers);
    const lagging = managers.find((m) => m !== leader)!;
    let restores = 0;
    lagging.store.onRestore(() => restores++);

    network.disconnect(addressOf(lagging.id));
    for (let slot = 1; slot <= 10; slot++) await leader.store.update((tx) => tx.tasks.create(makeTask({ serviceId: 's', slot })));
    await leader.node.snapshot();
    await leader.store.update((tx) => tx.tasks.create(makeTask({ serviceId: 's', slot: 11 })));
    network.reconnect(addressOf(lagging.id));

    await waitFor(() => lagging.store.view((tx) => tx.tasks.count()) === 11, 10_000, 'the lagging manager to catch up');
    expect(restores).toBe(1);
    expect(lagging.node.stats().snapshotsInstalled).toBe(1);
    expect(lagging.store.view((tx) => tx.tasks.bySlot('s', 11)).length).toBe(1);
    expect(lagging.fsm.snapshot()).toEqual(leader.fsm.snapshot());
  });
});
