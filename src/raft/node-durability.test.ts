import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../common/clock.js';
import { seededRandom } from '../common/random.js';
import { RaftNode } from './node.js';
import { InmemLogStore, InmemSnapshotStore, InmemStableStore } from './storage/memory.js';
import { addressOf, command, KvFsm, TestCluster, waitFor } from './test-cluster.js';
import { InmemNetwork } from './transport/inmem.js';
import type { Transport } from './transport/types.js';
import { encodeConfiguration, EntryType, RaftError, type Message, type PlantedBugs } from './types.js';

let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.shutdown();
  cluster = undefined;
});

describe('RaftNode durability', () => {
  it('restarts a follower from its WAL, stable store and snapshot: FSM rebuilt, term and vote kept', async () => {
    cluster = await TestCluster.bootstrap(['a', 'b', 'c'], { storage: 'wal' });
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 10; i++) await leader.node.apply(command(`k${i}=${i}`));
    const follower = [...cluster.servers.values()].find((s) => s !== leader)!;
    await waitFor(() => follower.fsm.history.length === 10, 10_000, 'follower to apply');
    const snapshot = await follower.node.snapshot();
    for (let i = 10; i < 15; i++) await leader.node.apply(command(`k${i}=${i}`));
    await waitFor(() => follower.fsm.history.length === 15, 10_000, 'follower to apply');
    const hardState = follower.node.inspect().hardState;

    const restarted = await cluster.restart(follower.id);
    expect(restarted.node.inspect().hardState).toEqual(hardState);
    expect(restarted.node.stats().lastSnapshotIndex).toBe(snapshot.index);
    // Restored from the snapshot at once; the rest is applied again once the leader says it is committed.
    expect(restarted.fsm.history.length).toBeGreaterThanOrEqual(10);
    await waitFor(() => restarted.fsm.history.length === 15, 10_000, 'restarted follower to catch up');
    expect(restarted.fsm.history).toEqual(leader.fsm.history);
  });

  it('restarts a whole cluster from disk without losing a committed write', async () => {
    cluster = await TestCluster.bootstrap(['a', 'b', 'c'], { storage: 'wal' });
    let leader = await cluster.waitForLeader();
    for (let i = 0; i < 5; i++) await leader.node.apply(command(`w${i}=${i}`));
    const history = [...leader.fsm.history];
    const term = leader.node.stats().term;

    for (const id of ['a', 'b', 'c']) await cluster.stop(id);
    for (const id of ['a', 'b', 'c']) cluster.start(id);

    leader = await cluster.waitForLeader();
    expect(leader.node.stats().term).toBeGreaterThan(term);
    await leader.node.barrier();
    expect(leader.fsm.history).toEqual(history);
  });

  it('stops for good (fail-stop) when the log cannot be synced', async () => {
    const network = new InmemNetwork();
    const logStore = new FailingLogStore();
    const transport = network.connect(addressOf('solo'));
    const node = new RaftNode({
      id: 'solo',
      fsm: new KvFsm(),
      logStore,
      stableStore: new InmemStableStore(),
      snapshotStore: new InmemSnapshotStore(),
      transport,
      tickMs: 10,
      heartbeatTimeoutMs: 100,
      electionTimeoutMs: 100,
    });
    try {
      node.bootstrapCluster({ servers: [{ id: 'solo', address: addressOf('solo'), suffrage: 'voter' }] });
      node.start();
      await waitFor(() => node.state() === 'leader');
      await node.apply(command('ok=1'));

      logStore.failing = true;
      const err = await node.apply(command('doomed=1')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RaftError);
      expect((err as RaftError).code).toBe('Shutdown');
      expect(node.state()).toBe('shutdown');
      expect(node.fatalError()?.message).toBe('disk on fire');
    } finally {
      await node.shutdown();
      await transport.close();
    }
  });
});

describe('RaftNode persistence order', () => {
  const leaderAppend: Message = {
    type: 'AppendEntries',
    from: 'a',
    to: 'b',
    term: 1,
    prevLogIndex: 0,
    prevLogTerm: 0,
    leaderCommit: 0,
    readCtx: 0,
    entries: [
      {
        index: 1,
        term: 1,
        type: EntryType.Configuration,
        data: encodeConfiguration({
          servers: [
            { id: 'a', address: 'addr-a', suffrage: 'voter' },
            { id: 'b', address: 'addr-b', suffrage: 'voter' },
          ],
        }),
      },
    ],
  };

  /** Delivers one AppendEntries to a fresh follower and records what its log held when it answered. */
  function answerAppend(bugs: PlantedBugs): { logStore: InmemLogStore; clock: ManualClock; answers: { msg: Message; storedAtSend: number; syncsAtSend: number }[] } {
    const logStore = new InmemLogStore();
    const clock = new ManualClock();
    const answers: { msg: Message; storedAtSend: number; syncsAtSend: number }[] = [];
    let handler: ((msg: Message) => void) | undefined;
    const transport: Transport = {
      localAddress: 'addr-b',
      send: (to, msg) => {
        expect(to).toEqual({ id: 'a', address: 'addr-a' });
        answers.push({ msg, storedAtSend: logStore.lastIndex(), syncsAtSend: logStore.syncCount });
      },
      onMessage: (h) => {
        handler = h;
      },
      close: async () => undefined,
    };
    const deferred: (() => void)[] = [];
    const node = new RaftNode({
      id: 'b',
      fsm: new KvFsm(),
      logStore,
      stableStore: new InmemStableStore(),
      snapshotStore: new InmemSnapshotStore(),
      transport,
      clock,
      random: seededRandom(1),
      defer: (fn) => deferred.push(fn),
      tickMs: 10,
      heartbeatTimeoutMs: 100,
      electionTimeoutMs: 100,
      bugs,
    });
    node.start();
    handler?.(leaderAppend);
    while (deferred.length > 0) deferred.shift()?.();
    expect(answers.map((a) => a.msg)).toContainEqual(expect.objectContaining({ type: 'AppendEntriesResponse', success: true, matchIndex: 1 }));
    return { logStore, clock, answers };
  }

  it('acknowledges entries only after they are stored and synced', () => {
    const { answers } = answerAppend({});
    expect(answers.at(-1)).toMatchObject({ storedAtSend: 1, syncsAtSend: 1 });
  });

  it('with the planted ackBeforeFsync bug, acknowledges first and writes the log later', () => {
    const { answers, logStore, clock } = answerAppend({ ackBeforeFsync: true });
    expect(answers.at(-1)).toMatchObject({ storedAtSend: 0, syncsAtSend: 0 });
    clock.advance(10);
    expect(logStore.lastIndex()).toBe(1);
    expect(logStore.syncCount).toBe(1);
  });
});

/** Test fake: a log store whose sync can be made to fail. */
class FailingLogStore extends InmemLogStore {
  failing = false;

  override sync(): void {
    if (this.failing) throw new Error('disk on fire');
    super.sync();
  }
}

/** Test fake: a clock that moves only when told. */
class ManualClock implements Clock {
  private time = 0;
  private timers: { at: number; fn: () => void; cancelled: boolean }[] = [];

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.time + ms, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= until).sort((x, y) => x.at - y.at)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.time = due.at;
      due.fn();
    }
    this.time = until;
  }
}
