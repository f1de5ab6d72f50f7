import { describe, expect, it } from 'vitest';
import { TaskState, type Service, type Task } from '../../proto/gen/objects.js';
import { StoreBatch } from '../../proto/gen/store.js';
import { StoreFsm } from './fsm.js';
import { ReplicatedStore } from './replicated-store.js';
import { FakeProposer, createTestStore, makeNode, makeService, makeTask } from './testing/index.js';
import { NotLeaderError, StoreConflictError, type StoreEvent } from './types.js';

function clock(start = 1_000): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (next) => (t = next) };
}

function withState(task: Task, state: TaskState, nodeId = task.nodeId): Task {
  return { ...task, nodeId, status: { ...task.status!, state } };
}

describe('ReplicatedStore: writes and meta', () => {
  it('stamps version with the entry index and timestamps with the proposer clock', async () => {
    const time = clock(5_000);
    const { store, proposer } = createTestStore({ now: time.now });
    const task = makeTask();
    await store.update((tx) => tx.tasks.create(task));
    const created = store.view((tx) => tx.tasks.get(task.meta!.id))!;
    expect(created.meta).toEqual({ id: task.meta!.id, version: proposer.lastIndex, createdAt: 5_000, updatedAt: 5_000 });
    expect(store.appliedIndex()).toBe(proposer.lastIndex);

    time.set(7_000);
    await store.update((tx) => tx.tasks.update(withState(created, TaskState.TASK_STATE_ASSIGNED, 'n1')));
    const updated = store.view((tx) => tx.tasks.get(task.meta!.id))!;
    expect(updated.meta).toEqual({ id: task.meta!.id, version: proposer.lastIndex, createdAt: 5_000, updatedAt: 7_000 });
    expect(updated.meta!.version).toBeGreaterThan(created.meta!.version);
    expect(updated.nodeId).toBe('n1');
  });

  it('takes the timestamp when update() is called, not when the entry applies', async () => {
    const time = clock(1_000);
    const { store, proposer } = createTestStore({ now: time.now });
    proposer.hold();
    const done = store.update((tx) => tx.nodes.create(makeNode('a', 'n1')));
    time.set(9_999);
    proposer.release();
    await done;
    expect(store.view((tx) => tx.nodes.get('n1'))!.meta!.createdAt).toBe(1_000);
  });

  it('ignores the writer’s createdAt and updatedAt', async () => {
    const { store } = createTestStore({ now: () => 42 });
    const task = makeTask();
    task.meta = { ...task.meta!, createdAt: 1, updatedAt: 2 };
    await store.update((tx) => tx.tasks.create(task));
    expect(store.view((tx) => tx.tasks.get(task.meta!.id))!.meta).toMatchObject({ createdAt: 42, updatedAt: 42 });
  });

  it('resolves with the function’s result, and deletes', async () => {
    const { store } = createTestStore();
    const id = await store.update((tx) => {
      const s = makeService('web');
      tx.services.create(s);
      return s.meta!.id;
    });
    const stored = store.view((tx) => tx.services.get(id))!;
    await store.update((tx) => tx.services.delete(stored));
    expect(store.view((tx) => [tx.services.get(id), tx.services.byName('web'), tx.services.count()])).toEqual([undefined, undefined, 0]);
  });

  it('does not copy on read: view returns the stored object itself', async () => {
    const { store } = createTestStore();
    const task = makeTask();
    await store.update((tx) => tx.tasks.create(task));
    const a = store.view((tx) => tx.tasks.get(task.meta!.id));
    const b = store.view((tx) => tx.tasks.byService(task.serviceId)[0]);
    expect(a).toBe(b);
    // The writer's object is not the stored one: later changes to it cannot leak into the store.
    expect(a).not.toBe(task);
  });
});

describe('ReplicatedStore: conflicts', () => {
  it('refuses a create with a taken id at once', async () => {
    const { store, proposer } = createTestStore();
    const task = makeTask();
    await store.update((tx) => tx.tasks.create(task));
    const proposals = proposer.proposals.length;
    await expect(store.update((tx) => tx.tasks.create(makeTask({ id: task.meta!.id })))).rejects.toThrow(StoreConflictError);
    expect(proposer.proposals.length).toBe(proposals);
  });

  it('refuses a create with a taken id when the entry applies (a concurrent create won)', async () => {
    const { store, proposer } = createTestStore();
    proposer.hold();
    const first = store.update((tx) => tx.tasks.create(makeTask({ id: 't1', slot: 1 })));
    const second = store.update((tx) => tx.tasks.create(makeTask({ id: 't1', slot: 2 })));
    proposer.release();
    await first;
    await expect(second).rejects.toThrow(/task t1 already exists/);
    expect(store.view((tx) => tx.tasks.get('t1'))!.slot).toBe(1);
  });

  it('refuses an update or delete naming a stale version, at once', async () => {
    const { store } = createTestStore();
    const task = makeTask();
    await store.update((tx) => tx.tasks.create(task));
    const v1 = store.view((tx) => tx.tasks.get(task.meta!.id))!;
    await store.update((tx) => tx.tasks.update(withState(v1, TaskState.TASK_STATE_ASSIGNED, 'n1')));
    await expect(store.update((tx) => tx.tasks.update(withState(v1, TaskState.TASK_STATE_RUNNING)))).rejects.toThrow(
      StoreConflictError,
    );
    await expect(store.update((tx) => tx.tasks.delete(v1))).rejects.toThrow(/is at version \d+, not \d+/);
    await expect(store.update((tx) => tx.tasks.update(makeTask({ id: 'nope' })))).rejects.toThrow(/task nope does not exist/);
    expect(store.view((tx) => tx.tasks.get(task.meta!.id))!.status!.state).toBe(TaskState.TASK_STATE_ASSIGNED);
  });

  it('applies nothing of a transaction that conflicts at apply time; the others in its batch still apply', async () => {
    const { store, proposer } = createTestStore();
    const a = makeTask({ id: 'a' });
    const b = makeTask({ id: 'b' });
    await store.update((tx) => {
      tx.tasks.create(a);
      tx.tasks.create(b);
    });
    const [a1, b1] = store.view((tx) => [tx.tasks.get('a')!, tx.tasks.get('b')!]);
    proposer.hold();
    const before = proposer.proposals.length;
    const winner = store.update((tx) => tx.tasks.update(withState(b1, TaskState.TASK_STATE_ASSIGNED, 'n1')));
    // Read before the winner applied, so this transaction's version of b is stale by the time it applies.
    const loser = store.update((tx) => {
      tx.tasks.update(withState(a1, TaskState.TASK_STATE_ASSIGNED, 'n2'));
      tx.tasks.update(withState(b1, TaskState.TASK_STATE_ASSIGNED, 'n2'));
      tx.tasks.create(makeTask({ id: 'c' }));
    });
    const bystander = store.update((tx) => tx.nodes.create(makeNode('host', 'n1')));
    proposer.release();
    await winner;
    await expect(loser).rejects.toThrow(/task b is at version/);
    await bystander;
    expect(proposer.proposals.length).toBe(before + 1);
    store.view((tx) => {
      expect(tx.tasks.get('a')).toBe(a1);
      expect(tx.tasks.get('b')!.nodeId).toBe('n1');
      expect(tx.tasks.get('c')).toBeUndefined();
      expect(tx.tasks.byNode('n2')).toEqual([]);
      expect(tx.nodes.get('n1')).toBeDefined();
    });
  });

  it('rejects with the error fn threw, proposing nothing', async () => {
    const { store, proposer } = createTestStore();
    await expect(
      store.update((tx) => {
        tx.tasks.create(makeTask());
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(proposer.proposals).toEqual([]);
    expect(store.view((tx) => tx.tasks.count())).toBe(0);
  });

  it('requires ids, and new objects for updates', async () => {
    const { store } = createTestStore();
    await expect(store.update((tx) => tx.tasks.create({ ...makeTask(), meta: undefined }))).rejects.toThrow(/meta.id is required/);
    const task = makeTask();
    await store.update((tx) => tx.tasks.create(task));
    await expect(
      store.update((tx) => {
        const stored = tx.tasks.get(task.meta!.id)!;
        tx.tasks.update(stored);
      }),
    ).rejects.toThrow(/pass a new object/);
  });

  it('refuses writes once the update function returned', async () => {
    const { store } = createTestStore();
    let leaked: Parameters<Parameters<typeof store.update>[0]>[0] | undefined;
    await store.update((tx) => {
      leaked = tx;
    });
    expect(() => leaked!.tasks.create(makeTask())).toThrow(/transaction is finished/);
  });
});

describe('ReplicatedStore: service names', () => {
  it('refuses a create or rename onto a taken name, naming it', async () => {
    const { store } = createTestStore();
    const web = makeService('web');
    const api = makeService('api');
    await store.update((tx) => {
      tx.services.create(web);
      tx.services.create(api);
    });
    await expect(store.update((tx) => tx.services.create(makeService('web')))).rejects.toThrow(
      `service name "web" is already taken by service ${web.meta!.id}`,
    );
    const storedApi = store.view((tx) => tx.services.get(api.meta!.id))!;
    const renamed: Service = { ...storedApi, spec: { ...storedApi.spec!, annotations: { name: 'web', labels: {} } } };
    await expect(store.update((tx) => tx.services.update(renamed))).rejects.toThrow(/service name "web" is already taken/);
    expect(store.view((tx) => tx.services.byName('api'))!.meta!.id).toBe(api.meta!.id);
  });

  it('refuses the second of two concurrent creates of one name when it applies', async () => {
    const { store, proposer } = createTestStore();
    proposer.hold();
    const first = store.update((tx) => tx.services.create(makeService('web', 1, 's1')));
    const second = store.update((tx) => tx.services.create(makeService('web', 1, 's2')));
    proposer.release();
    await first;
    await expect(second).rejects.toThrow('service name "web" is already taken by service s1');
    expect(store.view((tx) => tx.services.count())).toBe(1);
  });

  it('lets two services swap names in one transaction, and frees the name of a deleted one', async () => {
    const { store } = createTestStore();
    await store.update((tx) => {
      tx.services.create(makeService('a', 1, 's1'));
      tx.services.create(makeService('b', 1, 's2'));
    });
    const rename = (s: Service, name: string): Service => ({ ...s, spec: { ...s.spec!, annotations: { name, labels: {} } } });
    await store.update((tx) => {
      tx.services.update(rename(tx.services.get('s1')!, 'tmp'));
      tx.services.update(rename(tx.services.get('s2')!, 'a'));
      tx.services.update(rename(tx.services.get('s1')!, 'b'));
    });
    store.view((tx) => {
      expect(tx.services.byName('a')!.meta!.id).toBe('s2');
      expect(tx.services.byName('b')!.meta!.id).toBe('s1');
      expect(tx.services.byName('tmp')).toBeUndefined();
    });
    await store.update((tx) => {
      tx.services.delete(tx.services.get('s1')!);
      tx.services.create(makeService('b', 1, 's3'));
    });
    expect(store.view((tx) => tx.services.byName('b'))!.meta!.id).toBe('s3');
  });
});

describe('ReplicatedStore: reads inside a transaction see its own writes', () => {
  it('for get, all, count and every index', async () => {
    const { store } = createTestStore();
    const kept = makeTask({ id: 'kept', serviceId: 's', slot: 1, nodeId: 'n1', state: TaskState.TASK_STATE_RUNNING });
    const moved = makeTask({ id: 'moved', serviceId: 's', slot: 2 });
    const gone = makeTask({ id: 'gone', serviceId: 's', slot: 3, nodeId: 'n1', state: TaskState.TASK_STATE_RUNNING });
    await store.update((tx) => {
      for (const t of [kept, moved, gone]) tx.tasks.create(t);
      tx.services.create(makeService('web', 3, 's'));
    });
    await store.update((tx) => {
      const fresh = makeTask({ id: 'fresh', serviceId: 's', slot: 2 });
      tx.tasks.create(fresh);
      expect(tx.tasks.get('fresh')).toBe(fresh);
      expect(tx.tasks.pending().map((t) => t.meta!.id).sort()).toEqual(['fresh', 'moved']);

      tx.tasks.update(withState(tx.tasks.get('moved')!, TaskState.TASK_STATE_ASSIGNED, 'n2'));
      expect(tx.tasks.get('moved')!.nodeId).toBe('n2');
      expect(tx.tasks.byNode('n2').map((t) => t.meta!.id)).toEqual(['moved']);
      expect(tx.tasks.pending().map((t) => t.meta!.id)).toEqual(['fresh']);

      tx.tasks.delete(tx.tasks.get('gone')!);
      expect(tx.tasks.get('gone')).toBeUndefined();
      expect(tx.tasks.byNode('n1').map((t) => t.meta!.id)).toEqual(['kept']);
      expect(tx.tasks.bySlot('s', 3)).toEqual([]);
      expect(tx.tasks.bySlot('s', 2).map((t) => t.meta!.id).sort()).toEqual(['fresh', 'moved']);
      expect(tx.tasks.byService('s').map((t) => t.meta!.id).sort()).toEqual(['fresh', 'kept', 'moved']);
      expect(tx.tasks.all().map((t) => t.meta!.id).sort()).toEqual(['fresh', 'kept', 'moved']);
      expect(tx.tasks.count()).toBe(3);

      // Indexes built by a query keep up with later writes in the same transaction.
      tx.tasks.update(withState(tx.tasks.get('fresh')!, TaskState.TASK_STATE_ASSIGNED, 'n1'));
      expect(tx.tasks.pending()).toEqual([]);
      expect(tx.tasks.byNode('n1').map((t) => t.meta!.id).sort()).toEqual(['fresh', 'kept']);
      tx.tasks.delete(tx.tasks.get('fresh')!);
      expect(tx.tasks.byNode('n1').map((t) => t.meta!.id)).toEqual(['kept']);
      expect(tx.tasks.count()).toBe(2);

      const svc = tx.services.byName('web')!;
      tx.services.update({ ...svc, spec: { ...svc.spec!, annotations: { name: 'www', labels: {} } } });
      expect(tx.services.byName('web')).toBeUndefined();
      expect(tx.services.byName('www')!.meta!.id).toBe('s');
    });
    // Outside, the same answers.
    store.view((tx) => {
      expect(tx.tasks.count()).toBe(2);
      expect(tx.tasks.get('fresh')).toBeUndefined();
      expect(tx.tasks.byNode('n2').map((t) => t.meta!.id)).toEqual(['moved']);
      expect(tx.services.byName('www')!.meta!.id).toBe('s');
    });
  });

  it('collapses create-then-update into one create, and create-then-delete into nothing', async () => {
    const { store, proposer } = createTestStore();
    const events: StoreEvent[] = [];
    store.watch((e) => events.push(...e));
    await store.update((tx) => {
      const t = makeTask({ id: 't' });
      tx.tasks.create(t);
      tx.tasks.update(withState(tx.tasks.get('t')!, TaskState.TASK_STATE_ASSIGNED, 'n1'));
    });
    expect(events.map((e) => `${e.action} ${e.kind}`)).toEqual(['create task']);
    expect(store.view((tx) => tx.tasks.get('t'))!.nodeId).toBe('n1');
    const proposals = proposer.proposals.length;
    await store.update((tx) => {
      const t = makeTask({ id: 'u' });
      tx.tasks.create(t);
      tx.tasks.delete(t);
    });
    expect(proposer.proposals.length).toBe(proposals);
  });
});

describe('ReplicatedStore: proposals', () => {
  it('a transaction that wrote nothing resolves without a proposal', async () => {
    const { store, proposer } = createTestStore();
    await expect(store.update((tx) => tx.tasks.count())).resolves.toBe(0);
    expect(proposer.proposals).toEqual([]);
  });

  it('rejects when the proposer refuses (not the leader) and changes nothing', async () => {
    const { store, proposer } = createTestStore();
    const events: StoreEvent[] = [];
    store.watch((e) => events.push(...e));
    proposer.refuse(new NotLeaderError('not the leader', { id: 'm2', address: 'm2:4242' }));
    const err = await store.update((tx) => tx.tasks.create(makeTask())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader).toEqual({ id: 'm2', address: 'm2:4242' });
    expect(store.view((tx) => tx.tasks.count())).toBe(0);
    expect(events).toEqual([]);
    expect(store.appliedIndex()).toBe(0);
  });

  it('puts transactions made in one turn of the event loop into one entry, each settling on its own', async () => {
    const { store, proposer } = createTestStore();
    await store.update((tx) => tx.tasks.create(makeTask({ id: 'x' })));
    const before = proposer.proposals.length;
    const results = await Promise.allSettled([
      store.update((tx) => tx.tasks.create(makeTask({ id: 'y' }))),
      store.update((tx) => tx.tasks.create(makeTask({ id: 'z' }))),
      store.update(() => 'nothing written'),
      store.update((tx) => tx.tasks.delete({ ...tx.tasks.get('x')!, meta: { ...tx.tasks.get('x')!.meta!, version: 99 } })),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect(proposer.proposals.length).toBe(before + 1);
    expect(StoreBatch.decode(proposer.proposals[before]).transactions).toHaveLength(2);
  });

  it('bounds an entry by bytes; a transaction larger than the bound goes alone', async () => {
    const fsm = new StoreFsm();
    const proposer = new FakeProposer(fsm);
    const store = new ReplicatedStore({ fsm, proposer, batching: { maxBytes: 1_000 } });
    const small = Array.from({ length: 30 }, () => store.update((tx) => tx.tasks.create(makeTask())));
    const big = store.update((tx) => {
      for (let i = 0; i < 50; i++) tx.tasks.create(makeTask());
    });
    await Promise.all([...small, big]);
    const sizes = proposer.proposals.map((p) => p.length);
    const counts = proposer.proposals.map((p) => StoreBatch.decode(p).transactions.length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(31);
    expect(proposer.proposals.length).toBeGreaterThan(2);
    // Every entry is within the bound, except the one that holds only the big transaction.
    proposer.proposals.forEach((_, i) => {
      if (sizes[i] > 1_000) expect(counts[i]).toBe(1);
    });
    expect(sizes[sizes.length - 1]).toBeGreaterThan(1_000);
    expect(store.view((tx) => tx.tasks.count())).toBe(80);
  });
});

describe('ReplicatedStore: watch', () => {
  it('reports each applied transaction’s changes, in order, with the old object on update', async () => {
    const { store } = createTestStore();
    const batches: (readonly StoreEvent[])[] = [];
    const stop = store.watch((e) => batches.push(e));
    const task = makeTask({ id: 't' });
    await store.update((tx) => {
      tx.tasks.create(task);
      tx.nodes.create(makeNode('h', 'n1'));
    });
    const v1 = store.view((tx) => tx.tasks.get('t'))!;
    await store.update((tx) => tx.tasks.update(withState(v1, TaskState.TASK_STATE_ASSIGNED, 'n1')));
    const v2 = store.view((tx) => tx.tasks.get('t'))!;
    await store.update((tx) => tx.tasks.delete(v2));
    expect(batches.map((b) => b.map((e) => `${e.action} ${e.kind} ${e.object.meta!.id}`))).toEqual([
      ['create task t', 'create node n1'],
      ['update task t'],
      ['delete task t'],
    ]);
    const update = batches[1][0];
    expect(update.action === 'update' && update.old).toBe(v1);
    expect(update.object).toBe(v2);
    expect(batches[2][0].object).toBe(v2);

    stop();
    await store.update((tx) => tx.tasks.create(makeTask()));
    expect(batches).toHaveLength(3);
  });

  it('keeps working when a watcher throws', async () => {
    const { store } = createTestStore();
    const seen: string[] = [];
    store.watch(() => {
      throw new Error('broken watcher');
    });
    store.watch((e) => seen.push(e[0].action));
    await store.update((tx) => tx.tasks.create(makeTask({ id: 'a' })));
    await store.update((tx) => tx.tasks.create(makeTask({ id: 'b' })));
    expect(seen).toEqual(['create', 'create']);
    expect(store.view((tx) => tx.tasks.count())).toBe(2);
  });

  it('fires nothing for a refused transaction', async () => {
    const { store } = createTestStore();
    const seen: StoreEvent[] = [];
    await store.update((tx) => tx.tasks.create(makeTask({ id: 'a' })));
    store.watch((e) => seen.push(...e));
    await expect(store.update((tx) => tx.tasks.create(makeTask({ id: 'a' })))).rejects.toThrow(StoreConflictError);
    expect(seen).toEqual([]);
  });
});
