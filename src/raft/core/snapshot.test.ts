import { describe, expect, it } from 'vitest';
import { EntryType, type InstallSnapshotResponse, type Message, type SnapshotMeta } from '../types.js';
import { FakeNetwork, TEST_ELECTION_TICKS, command, commandsOf } from './testing/fake-network.js';

/** Takes a snapshot of `id` at its applied index and compacts its in-memory log up to there. */
function snapshotAt(net: FakeNetwork, id: string): SnapshotMeta {
  const core = net.core(id);
  const st = core.status();
  const at = core.configurationAt(st.appliedIndex);
  const meta: SnapshotMeta = {
    index: st.appliedIndex,
    term: core.entry(st.appliedIndex)?.term ?? 0,
    configuration: at.configuration,
    configurationIndex: at.index,
  };
  core.snapshotTaken(meta, meta.index);
  return meta;
}

function snapshotRequest(meta: SnapshotMeta): Message {
  return { type: 'InstallSnapshot', from: 'a', to: 'b', term: 2, meta };
}

describe('snapshots', () => {
  it('a follower behind the compacted log gets a snapshot, then the entries after it', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.isolate('b');
    for (let i = 0; i < 10; i++) net.core('a').propose(EntryType.Command, command(`c${i}`));
    net.stabilize();
    const meta = snapshotAt(net, 'a');
    expect(net.core('a').status()).toMatchObject({ firstIndex: 13, snapshotIndex: 12 });
    expect(net.core('a').entry(12)).toBeUndefined();
    net.core('a').propose(EntryType.Command, command('after'));
    net.stabilize();

    net.heal();
    const snapshotsSent: Message[] = [];
    net.dropIf = (m) => (m.type === 'InstallSnapshot' && snapshotsSent.push(m) === 0);
    net.tickAll(3);
    expect(snapshotsSent).toHaveLength(1);
    const b = net.server('b');
    expect(b.readies.some((rd) => rd.snapshot?.index === meta.index)).toBe(true);
    expect(b.snapshot).toEqual(meta);
    expect(b.core.status()).toMatchObject({ commitIndex: 13, appliedIndex: 13, firstIndex: 13, snapshotIndex: 12 });
    expect(commandsOf(b.applied)).toEqual(['after']);
    expect(b.core.status().configuration.servers.map((s) => s.id)).toEqual(['a', 'b', 'c']);
  });

  it('ignores a snapshot at or below its commit index', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'] });
    net.elect('a');
    for (let i = 0; i < 3; i++) net.core('a').propose(EntryType.Command, command(`c${i}`));
    net.tickAll(1);
    const b = net.core('b');
    expect(b.status().commitIndex).toBe(5);
    b.step(snapshotRequest({ index: 4, term: 2, configuration: { servers: [] }, configurationIndex: 1 }));
    const rd = b.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages[0]).toMatchObject({ type: 'InstallSnapshotResponse', success: true, matchIndex: 5 });
    expect(b.status()).toMatchObject({ lastIndex: 5, snapshotIndex: 0 });
  });

  it('keeps the log after a snapshot whose last entry it already holds, and just commits', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'] });
    net.elect('a');
    net.stabilize();
    for (let i = 0; i < 4; i++) net.core('a').propose(EntryType.Command, command(`c${i}`));
    net.flushReadies();
    net.deliver((m) => m.to === 'b'); // b gets entries 3..6, but never learns they committed
    net.processReady('b');
    const b = net.core('b');
    expect(b.status()).toMatchObject({ lastIndex: 6, commitIndex: 2 });
    b.step(snapshotRequest({ index: 4, term: 2, configuration: { servers: [] }, configurationIndex: 1 }));
    const rd = b.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3, 4]);
    expect(b.status()).toMatchObject({ lastIndex: 6, commitIndex: 4 });
    expect((rd.messages[0] as InstallSnapshotResponse).matchIndex).toBe(4);
  });

  it('discards a conflicting log for a newer snapshot', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'] });
    const b = net.core('b');
    b.ready();
    const meta = { index: 40, term: 5, configuration: { servers: [{ id: 'a', address: 'x', suffrage: 'voter' as const }] }, configurationIndex: 30 };
    b.step({ ...snapshotRequest(meta), term: 5 });
    const rd = b.ready();
    expect(rd.snapshot).toEqual(meta);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.messages[0]).toMatchObject({ success: true, matchIndex: 40 });
    b.advance(rd);
    expect(b.status()).toMatchObject({ firstIndex: 41, lastIndex: 40, lastTerm: 5, commitIndex: 40, appliedIndex: 40, configurationIndex: 30 });
    expect(b.status().configuration).toEqual(meta.configuration);
  });

  it('the leader re-probes a follower whose snapshot went unanswered for an election timeout', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.isolate('b');
    for (let i = 0; i < 3; i++) net.core('a').propose(EntryType.Command, command(`c${i}`));
    net.stabilize();
    snapshotAt(net, 'a');
    net.heal();
    const sent = () => net.dropped.filter((m) => m.type === 'InstallSnapshot').length;
    net.dropIf = (m) => m.type === 'InstallSnapshot';
    net.tick('a');
    net.stabilize();
    expect(net.core('a').status().progress.b.state).toBe('snapshot');
    expect(sent()).toBe(1);
    net.tick('a', TEST_ELECTION_TICKS - 1);
    net.stabilize();
    expect(sent()).toBe(1);
    net.tick('a'); // probes again, which finds the log still compacted and resends the snapshot
    net.stabilize();
    expect(sent()).toBe(2);
    net.dropIf = () => false;
    net.tickAll(TEST_ELECTION_TICKS + 1);
    expect(net.core('b').status().commitIndex).toBe(5);
    expect(net.core('a').status().progress.b.state).toBe('replicate');
  });

  it('restarts from a snapshot with commit and applied at its index', () => {
    const net = new FakeNetwork({ voters: ['a'] });
    net.elect('a');
    for (let i = 0; i < 3; i++) net.core('a').propose(EntryType.Command, command(`c${i}`));
    net.stabilize();
    const meta = snapshotAt(net, 'a');
    net.server('a').snapshot = meta;
    const core = net.restart('a');
    expect(core.status()).toMatchObject({ commitIndex: 5, appliedIndex: 5, firstIndex: 6, lastIndex: 5, lastTerm: 2, term: 2 });
  });
});
