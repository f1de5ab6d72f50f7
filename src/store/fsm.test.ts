import { describe, expect, it } from 'vitest';
import { TaskState, type Task } from '../../proto/gen/objects.js';
import { ChangeKind, StoreBatch, StoreTransaction } from '../../proto/gen/store.js';
import { EntryType, type Entry } from '../raft/types.js';
import { StoreFsm } from './fsm.js';
import { toStoreObject } from './kinds.js';
import { createTestStore, makeNode, makeService, makeTask } from './testing/index.js';
import type { ReadTx, StoreEvent } from './types.js';

function entry(index: number, data: Uint8Array): Entry {
  return { index, term: 1, type: EntryType.Command, data };
}

function batch(...transactions: StoreTransaction[]): Uint8Array {
  return StoreBatch.encode({ transactions }).finish();
}

function createTx(timestamp: number, ...tasks: Task[]): StoreTransaction {
  return {
    timestamp,
    changes: tasks.map((object) => ({ kind: ChangeKind.CHANGE_KIND_CREATE, object: toStoreObject({ kind: 'task', object }) })),
  };
}

/** Everything a reader can observe, in a form independent of iteration order. */
function observe(tx: ReadTx): unknown {
  const ids = (list: { meta?: { id: string } }[]): string[] => list.map((o) => o.meta!.id).sort();
  const tasks = tx.tasks.all();
  const services = tx.services.all();
  const nodeIds = [...new Set(tasks.map((t) => t.nodeId))].sort();
  return {
    tasks: [...tasks].sort((a, b) => a.meta!.id.localeCompare(b.meta!.id)),
    services: [...services].sort((a, b) => a.meta!.id.localeCompare(b.meta!.id)),
    nodes: ids(tx.nodes.all()),
    counts: [tx.clusters.count(), tx.nodes.count(), tx.services.count(), tx.tasks.count()],
    byName: services.map((s) => [s.spec!.annotations!.name, tx.services.byName(s.spec!.annotations!.name)?.meta!.id]),
    byService: services.map((s) => ids(tx.tasks.byService(s.meta!.id))),
    byNode: nodeIds.map((n) => [n, ids(tx.tasks.byNode(n))]),
    bySlot: tasks.map((t) => [t.serviceId, t.slot, ids(tx.tasks.bySlot(t.serviceId, t.slot))]).sort(),
    pending: ids(tx.tasks.pending()),
  };
}

/** A small history with every kind of change: creates, moves between nodes and slots, state changes, deletes. */
async function busyStore(): Promise<ReturnType<typeof createTestStore>> {
  const made = createTestStore({ now: () => 1_700_000_000_000 });
  const { store } = made;
  await store.update((tx) => {
    tx.services.create(makeService('web', 3, 's1'));
    tx.services.create(makeService('api', 2, 's2'));
    tx.nodes.create(makeNode('h1', 'n1'));
    tx.nodes.create(makeNode('h2', 'n2'));
    for (let slot = 1; slot <= 3; slot++) tx.tasks.create(makeTask({ id: `w${slot}`, serviceId: 's1', slot }));
    for (let slot = 1; slot <= 2; slot++) tx.tasks.create(makeTask({ id: `a${slot}`, serviceId: 's2', slot }));
  });
  await store.update((tx) => {
    for (const t of tx.tasks.pending().slice(0, 4)) {
      tx.tasks.update({ ...t, nodeId: t.slot % 2 ? 'n1' : 'n2', status: { ...t.status!, state: TaskState.TASK_STATE_ASSIGNED } });
    }
  });
  await store.update((tx) => {
    const w1 = tx.tasks.get('w1')!;
    tx.tasks.update({ ...w1, nodeId: 'n2', slot: 3 });
    const a1 = tx.tasks.get('a1')!;
    tx.tasks.update({ ...a1, desiredState: TaskState.TASK_STATE_SHUTDOWN });
    tx.tasks.delete(tx.tasks.get('w2')!);
    const api = tx.services.get('s2')!;
    tx.services.update({ ...api, spec: { ...api.spec!, annotations: { name: 'api-v2', labels: {} } } });
  });
  return made;
}

describe('StoreFsm: indexes', () => {
  it('follow tasks as they change node, slot and state, and as they are deleted', async () => {
    const { store } = await busyStore();
    store.view((tx) => {
      const ids = (list: Task[]): string[] => list.map((t) => t.meta!.id).sort();
      expect(ids(tx.tasks.byNode('n1'))).toEqual(['a1', 'w3']);
      expect(ids(tx.tasks.byNode('n2'))).toEqual(['w1']);
      expect(ids(tx.tasks.pending())).toEqual(['a2']);
      expect(ids(tx.tasks.bySlot('s1', 1))).toEqual([]);
      expect(ids(tx.tasks.bySlot('s1', 2))).toEqual([]);
      expect(ids(tx.tasks.bySlot('s1', 3))).toEqual(['w1', 'w3']);
      expect(ids(tx.tasks.byService('s1'))).toEqual(['w1', 'w3']);
      expect(ids(tx.tasks.byService('s2'))).toEqual(['a1', 'a2']);
      expect(tx.tasks.byNode('')).toEqual([]);
      expect(tx.services.byName('api')).toBeUndefined();
      expect(tx.services.byName('api-v2')!.meta!.id).toBe('s2');
    });
  });

  it('pending holds tasks observed PENDING with desired state up to RUNNING', async () => {
    const { store } = createTestStore();
    await store.update((tx) => {
      tx.tasks.create(makeTask({ id: 'run', desiredState: TaskState.TASK_STATE_RUNNING }));
      tx.tasks.create(makeTask({ id: 'delayed', desiredState: TaskState.TASK_STATE_READY }));
      tx.tasks.create(makeTask({ id: 'stop', desiredState: TaskState.TASK_STATE_SHUTDOWN }));
      tx.tasks.create(makeTask({ id: 'placed', state: TaskState.TASK_STATE_ASSIGNED, nodeId: 'n1' }));
    });
    expect(store.view((tx) => tx.tasks.pending().map((t) => t.meta!.id).sort())).toEqual(['delayed', 'run']);
    await store.update((tx) => {
      const run = tx.tasks.get('run')!;
      tx.tasks.update({ ...run, desiredState: TaskState.TASK_STATE_SHUTDOWN });
    });
    expect(store.view((tx) => tx.tasks.pending().map((t) => t.meta!.id))).toEqual(['delayed']);
  });
});

describe('StoreFsm: snapshot and restore', () => {
  it('restores into a fresh store with identical tables and indexes', async () => {
    const { store, fsm } = await busyStore();
    const copy = createTestStore();
    copy.fsm.restore(fsm.snapshot());
    expect(copy.store.view(observe)).toEqual(store.view(observe));
    expect(copy.fsm.snapshot()).toEqual(fsm.snapshot());
    expect(copy.store.appliedIndex()).toBe(store.appliedIndex());
    // And it keeps going from there: versions continue, conflicts are still detected.
    const w1 = copy.store.view((tx) => tx.tasks.get('w1'))!;
    expect(w1).toEqual(store.view((tx) => tx.tasks.get('w1')));
    await expect(copy.store.update((tx) => tx.services.create(makeService('web')))).rejects.toThrow(/already taken by service s1/);
  });

  it('replaces everything, fires no events, and tells restore listeners', async () => {
    const { fsm } = await busyStore();
    const snapshot = fsm.snapshot();
    const other = createTestStore();
    await other.store.update((tx) => {
      tx.tasks.create(makeTask({ id: 'stranger', serviceId: 's1', nodeId: 'n1', slot: 1 }));
      tx.services.create(makeService('web', 1, 'impostor'));
    });
    const events: StoreEvent[] = [];
    let restores = 0;
    other.store.watch((e) => events.push(...e));
    other.store.onRestore(() => restores++);
    other.store.onRestore(() => {
      throw new Error('a broken listener does not stop the others');
    });
    other.fsm.restore(snapshot);
    expect(events).toEqual([]);
    expect(restores).toBe(1);
    other.store.view((tx) => {
      expect(tx.tasks.get('stranger')).toBeUndefined();
      expect(tx.services.get('impostor')).toBeUndefined();
      expect(tx.services.byName('web')!.meta!.id).toBe('s1');
      expect(tx.tasks.byNode('n1').map((t) => t.meta!.id)).not.toContain('stranger');
      expect(tx.tasks.bySlot('s1', 1)).toEqual([]);
    });
    expect(other.store.appliedIndex()).toBe(fsm.appliedIndex());
  });

  it('restores an empty snapshot to an empty store', async () => {
    const { fsm, store } = await busyStore();
    fsm.restore(new StoreFsm().snapshot());
    expect(store.view((tx) => [tx.tasks.count(), tx.services.count(), tx.nodes.count(), tx.tasks.pending()])).toEqual([0, 0, 0, []]);
  });
});

describe('StoreFsm: apply', () => {
  it('is deterministic: the same entries give the same state and the same responses', () => {
    const entries: Entry[] = [];
    const t1 = makeTask({ id: 't1' });
    const t2 = makeTask({ id: 't2', slot: 2 });
    entries.push(entry(1, batch(createTx(10, t1, t2), createTx(11, makeTask({ id: 't1' })))));
    const updated = { ...t1, nodeId: 'n1', meta: { ...t1.meta!, version: 1 } };
    entries.push(entry(2, batch({ timestamp: 20, changes: [{ kind: ChangeKind.CHANGE_KIND_UPDATE, object: toStoreObject({ kind: 'task', object: updated }) }] })));
    const a = new StoreFsm();
    const b = new StoreFsm();
    const responses = [entries.map((e) => a.apply(e)), entries.map((e) => b.apply(e))];
    expect(responses[0]).toEqual([[null, 'task t1 already exists'], [null]]);
    expect(responses[1]).toEqual(responses[0]);
    expect(a.snapshot()).toEqual(b.snapshot());
    expect(a.reader.tasks.get('t1')!.meta).toEqual({ id: 't1', version: 2, createdAt: 10, updatedAt: 20 });
    expect(a.appliedIndex()).toBe(2);
  });

  it('throws on an entry that is not a StoreBatch (Raft then fail-stops)', () => {
    const fsm = new StoreFsm();
    expect(() => fsm.apply(entry(7, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f])))).toThrow(/raft entry 7 is not a StoreBatch/);
    expect(fsm.appliedIndex()).toBe(0);
  });

  it('refuses malformed transactions deterministically instead of crashing', () => {
    const fsm = new StoreFsm();
    const t = makeTask({ id: 't' });
    const create = { kind: ChangeKind.CHANGE_KIND_CREATE, object: toStoreObject({ kind: 'task', object: t }) };
    const response = fsm.apply(
      entry(
        1,
        batch(
          { timestamp: 1, changes: [create, create] },
          { timestamp: 1, changes: [{ kind: ChangeKind.CHANGE_KIND_CREATE, object: { object: undefined } }] },
          { timestamp: 1, changes: [create] },
        ),
      ),
    );
    expect(response).toEqual(['malformed transaction: task t changed twice in one transaction', 'malformed transaction: a change without an object id', null]);
    expect(fsm.reader.tasks.count()).toBe(1);
  });

  it('checks service names against the whole transaction, not change by change', () => {
    const fsm = new StoreFsm();
    const a = makeService('a', 1, 's1');
    const b = makeService('b', 1, 's2');
    const change = (kind: ChangeKind, object: typeof a) => ({ kind, object: toStoreObject({ kind: 'service', object }) });
    fsm.apply(entry(1, batch({ timestamp: 1, changes: [change(ChangeKind.CHANGE_KIND_CREATE, a), change(ChangeKind.CHANGE_KIND_CREATE, b)] })));
    const renamed = (s: typeof a, name: string) => ({ ...s, meta: { ...s.meta!, version: 1 }, spec: { ...s.spec!, annotations: { name, labels: {} } } });
    const swap = { timestamp: 2, changes: [change(ChangeKind.CHANGE_KIND_UPDATE, renamed(a, 'b')), change(ChangeKind.CHANGE_KIND_UPDATE, renamed(b, 'a'))] };
    const clash = { timestamp: 2, changes: [change(ChangeKind.CHANGE_KIND_CREATE, makeService('x', 1, 's3')), change(ChangeKind.CHANGE_KIND_CREATE, makeService('x', 1, 's4'))] };
    expect(fsm.apply(entry(2, batch(swap, clash)))).toEqual([null, 'service name "x" is claimed twice in one transaction']);
    expect(fsm.reader.services.byName('a')!.meta!.id).toBe('s2');
    expect(fsm.reader.services.byName('b')!.meta!.id).toBe('s1');
    expect(fsm.reader.services.count()).toBe(2);
  });
});
