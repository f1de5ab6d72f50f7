import { describe, expect, it } from 'vitest';
import { TaskState, type Task } from '../../proto/gen/objects.js';
import { ChangeKind, StoreTransaction, type StoreChange } from '../../proto/gen/store.js';
import { EntryType } from '../raft/types.js';
import { StoreFsm } from './fsm.js';
import { toStoreObject } from './kinds.js';
import { copierMatchesSchema, encodeProposal } from './proposal.js';
import { ReplicatedStore } from './replicated-store.js';
import { StoreState } from './state.js';
import { makeNode, makeService, makeTask } from './testing/index.js';
import type { Proposer } from './types.js';

function change(kind: ChangeKind, task: Task): StoreChange {
  return { kind, object: toStoreObject({ kind: 'task', object: task }) };
}

function taskOf(c: StoreChange | undefined): Task {
  const o = c?.object?.object;
  if (o?.$case !== 'task') throw new Error('not a task change');
  return o.task;
}

/** What a follower decodes. */
function viaGeneratedCodec(changes: StoreChange[], timestamp: number): StoreTransaction {
  return StoreTransaction.decode(StoreTransaction.encode({ changes, timestamp }).finish());
}

function fullTask(): Task {
  const task = makeTask({ nodeId: 'node-1', state: TaskState.TASK_STATE_RUNNING });
  return {
    ...task,
    meta: { id: task.meta!.id, version: 7, createdAt: 1_700_000_000_000, updatedAt: -5 },
    serviceAnnotations: { name: 'web', labels: { b: '2', a: '', 10: 'ten', 'com.example': 'ü ok' } },
    status: {
      state: TaskState.TASK_STATE_FAILED,
      timestamp: 123,
      message: 'exit',
      err: 'non-zero exit (-1)',
      exitCode: -1,
      health: 2,
      containerId: 'c1',
      pid: 2 ** 31 - 1,
    },
    networks: [{ networkId: 'net-1', address: '10.0.1.5/24', aliases: ['db'] }],
    endpoint: { spec: { mode: 1, ports: [] }, ports: [{ protocol: 1, targetPort: 53, publishedPort: 30053, publishMode: 0 }], virtualIps: [{ networkId: 'net-1', address: '10.0.1.2/24' }] },
  };
}

describe('encodeProposal', () => {
  it('knows every field of the generated messages it copies', () => {
    expect(copierMatchesSchema()).toBe(true);
  });

  it('gives, as its copy, exactly what decoding the encoded transaction gives', () => {
    const empty = makeTask();
    const changes = [
      change(ChangeKind.CHANGE_KIND_CREATE, fullTask()),
      change(ChangeKind.CHANGE_KIND_UPDATE, { ...empty, spec: undefined, status: undefined, meta: undefined }),
      // -0 is written as nothing and read back as 0.
      change(ChangeKind.CHANGE_KIND_DELETE, { ...makeTask(), slot: -0, status: { ...makeTask().status!, exitCode: -0 } }),
    ];
    const { bytes, copy } = encodeProposal(changes, 42, new StoreState());
    const decoded = StoreTransaction.decode(bytes);
    expect(decoded).toStrictEqual(viaGeneratedCodec(changes, 42));
    expect(copy).toStrictEqual(decoded);
    // Key order too, so that even a JSON rendering of the two is the same.
    expect(JSON.stringify(copy)).toBe(JSON.stringify(decoded));
  });

  it('copies tasks that share the service’s spec exactly', () => {
    const state = new StoreState();
    const service = makeService('web');
    state.put({ kind: 'service', object: service }, undefined);
    const tasks = [1, 2].map((slot) => ({ ...makeTask({ serviceId: service.meta!.id, slot }), spec: service.spec!.task }));
    for (const task of tasks) {
      const changes = [change(ChangeKind.CHANGE_KIND_CREATE, task)];
      const { bytes, copy } = encodeProposal(changes, 7, state);
      expect(StoreTransaction.decode(bytes)).toStrictEqual(copy);
      expect(copy).toStrictEqual(viaGeneratedCodec(changes, 7));
    }
  });

  it('keeps nothing of the writer’s: every object is a new one', () => {
    const task = fullTask();
    const copied = taskOf(encodeProposal([change(ChangeKind.CHANGE_KIND_CREATE, task)], 1, new StoreState()).copy?.changes[0]);
    expect(copied).not.toBe(task);
    expect(copied.meta).not.toBe(task.meta);
    expect(copied.spec).not.toBe(task.spec);
    expect(copied.spec!.container).not.toBe(task.spec!.container);
    expect(copied.status).not.toBe(task.status);
    expect(copied.serviceAnnotations).not.toBe(task.serviceAnnotations);
    expect(copied.serviceAnnotations!.labels).not.toBe(task.serviceAnnotations!.labels);
  });

  it('shares what the store already owns: the stored task’s parts and the service’s task spec', () => {
    const state = new StoreState();
    const service = makeService('web');
    state.put({ kind: 'service', object: service }, undefined);
    const stored = { ...fullTask(), serviceId: service.meta!.id };
    state.put({ kind: 'task', object: stored }, undefined);

    const assigned = { ...stored, nodeId: 'node-2' };
    const fresh = { ...makeTask({ serviceId: service.meta!.id }), spec: service.spec!.task };
    const { copy } = encodeProposal([change(ChangeKind.CHANGE_KIND_UPDATE, assigned), change(ChangeKind.CHANGE_KIND_CREATE, fresh)], 1, state);
    const [a, f] = copy!.changes.map(taskOf);
    expect(a!.spec).toBe(stored.spec);
    expect(a!.status).toBe(stored.status);
    expect(a!.serviceAnnotations).toBe(stored.serviceAnnotations);
    expect(f!.spec).toBe(service.spec!.task);
  });

  it('copies a writer’s spec once, and equal annotations once, for the many tasks of a transaction', () => {
    const spec = makeTask().spec;
    const changes = [1, 2, 3].map((slot) =>
      change(ChangeKind.CHANGE_KIND_CREATE, { ...makeTask({ slot }), spec, serviceAnnotations: { name: 'web', labels: { a: '1' } } }),
    );
    const tasks = encodeProposal(changes, 1, new StoreState()).copy!.changes.map(taskOf);
    expect(tasks[0]!.spec).not.toBe(spec);
    expect(tasks[1]!.spec).toBe(tasks[0]!.spec);
    expect(tasks[2]!.spec).toBe(tasks[0]!.spec);
    expect(tasks[2]!.serviceAnnotations).toBe(tasks[0]!.serviceAnnotations);
  });

  it.each([
    ['a fractional number', (t: Task): Task => ({ ...t, slot: 1.5 })],
    ['an integer beyond 2^53', (t: Task): Task => ({ ...t, meta: { ...t.meta!, createdAt: 2 ** 60 } })],
    ['a negative unsigned', (t: Task): Task => ({ ...t, specVersion: -1 })],
    ['an int32 out of range', (t: Task): Task => ({ ...t, status: { ...t.status!, exitCode: 2 ** 31 } })],
    ['a lone surrogate', (t: Task): Task => ({ ...t, nodeId: 'n\uD800' })],
    ['a label named __proto__', (t: Task): Task => ({ ...t, serviceAnnotations: { name: '', labels: JSON.parse('{"__proto__":"x"}') as Record<string, string> } })],
  ])('makes no copy (the FSM decodes instead) of %s', (_why, spoil) => {
    expect(encodeProposal([change(ChangeKind.CHANGE_KIND_CREATE, spoil(makeTask()))], 1, new StoreState()).copy).toBeUndefined();
  });

  it('makes no copy of a transaction that writes anything but tasks, or with a timestamp out of range', () => {
    const node = { kind: ChangeKind.CHANGE_KIND_CREATE, object: toStoreObject({ kind: 'node', object: makeNode('a') }) };
    expect(encodeProposal([change(ChangeKind.CHANGE_KIND_CREATE, makeTask()), node], 1, new StoreState()).copy).toBeUndefined();
    expect(encodeProposal([change(ChangeKind.CHANGE_KIND_CREATE, makeTask())], 0.5, new StoreState()).copy).toBeUndefined();
  });
});

/**
 * A leader store whose entries also go, as bytes (a copy, as the network would deliver them), to a
 * follower's FSM: the leader applies its local copies, the follower decodes.
 */
class MirroringProposer implements Proposer {
  private index = 0;
  constructor(
    private readonly leader: StoreFsm,
    private readonly follower: StoreFsm,
  ) {}

  async propose(data: Uint8Array): Promise<{ index: number; response: unknown }> {
    await new Promise((resolve) => setImmediate(resolve));
    const index = ++this.index;
    this.follower.apply({ index, term: 1, type: EntryType.Command, data: Uint8Array.from(data) });
    return { index, response: this.leader.apply({ index, term: 1, type: EntryType.Command, data }) };
  }
}

describe('the proposer’s local copies', () => {
  it('leave the leader in exactly the follower’s state, and the writer’s objects unaliased', async () => {
    const leaderFsm = new StoreFsm();
    const followerFsm = new StoreFsm();
    let time = 1_000;
    const store = new ReplicatedStore({ fsm: leaderFsm, proposer: new MirroringProposer(leaderFsm, followerFsm), now: () => time++ });

    const service = makeService('web', 6);
    await store.update((tx) => tx.services.create(service));
    const stored = store.view((tx) => tx.services.get(service.meta!.id))!;
    const written: Task[] = [];
    await Promise.all(
      [0, 3].map((from) =>
        store.update((tx) => {
          for (let slot = from + 1; slot <= from + 3; slot++) {
            const task = {
              ...makeTask({ serviceId: stored.meta!.id, slot }),
              spec: stored.spec!.task,
              serviceAnnotations: { name: 'web', labels: { tier: 'front' } },
            };
            written.push(task);
            tx.tasks.create(task);
          }
        }),
      ),
    );
    // A scheduler pass, then status reports, then a shutdown and a delete, as the loops write them.
    const tasks = (): Task[] => store.view((tx) => tx.tasks.byService(stored.meta!.id));
    await store.update((tx) => {
      for (const t of tasks()) tx.tasks.update({ ...t, nodeId: 'node-1', status: { ...t.status!, state: TaskState.TASK_STATE_ASSIGNED } });
    });
    await Promise.all(
      tasks().map((t) => store.update((tx) => tx.tasks.update({ ...t, status: { ...t.status!, state: TaskState.TASK_STATE_RUNNING, timestamp: 5 } }))),
    );
    const [first, second] = tasks();
    await store.update((tx) => tx.tasks.update({ ...first!, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
    await store.update((tx) => tx.tasks.delete(store.view((r) => r.tasks.get(second!.meta!.id))!));
    // A conflict is refused alike on both.
    await expect(store.update((tx) => tx.tasks.update({ ...first!, nodeId: 'node-2' }))).rejects.toThrow(/version/);

    expect(leaderFsm.appliedIndex()).toBe(followerFsm.appliedIndex());
    const all = (fsm: StoreFsm): Task[] => fsm.reader.tasks.all().sort((a, b) => a.meta!.id.localeCompare(b.meta!.id));
    expect(all(leaderFsm)).toStrictEqual(all(followerFsm));
    expect(JSON.stringify(all(leaderFsm))).toBe(JSON.stringify(all(followerFsm)));
    expect(leaderFsm.reader.tasks.pending()).toStrictEqual(followerFsm.reader.tasks.pending());
    expect(Buffer.from(leaderFsm.snapshot()).equals(Buffer.from(followerFsm.snapshot()))).toBe(true);

    // The leader did take the shortcut: its tasks share the stored service's task spec.
    const spec = (fsm: StoreFsm): unknown => fsm.reader.services.get(stored.meta!.id)!.spec!.task;
    expect(all(leaderFsm).every((t) => t.spec === spec(leaderFsm))).toBe(true);
    expect(all(followerFsm).some((t) => t.spec === spec(followerFsm))).toBe(false);

    // What the writer keeps is not the store's: changing it changes nothing stored.
    for (const t of written) {
      t.status!.message = 'mutated by the writer';
      t.serviceAnnotations!.labels.tier = 'mutated';
      t.meta!.id = 'x';
    }
    expect(all(leaderFsm)).toStrictEqual(all(followerFsm));
  });

  it('are not used for the same bytes arriving as another array (a follower, a restart): those are decoded', () => {
    const fsm = new StoreFsm();
    const task = makeTask();
    const { bytes, copy } = encodeProposal([change(ChangeKind.CHANGE_KIND_CREATE, task)], 9, fsm.current);
    const data = Uint8Array.from([10, bytes.length, ...bytes]);
    fsm.expectLocal(data, [{ bytes, copy }]);
    fsm.apply({ index: 1, term: 1, type: EntryType.Command, data: Uint8Array.from(data) });
    const stored = fsm.reader.tasks.get(task.meta!.id)!;
    expect(stored).not.toBe(taskOf(copy!.changes[0]));
    expect(stored.meta).toEqual({ id: task.meta!.id, version: 1, createdAt: 9, updatedAt: 9 });
  });
});
