import { describe, expect, it } from 'vitest';
import { EntryType, type AppendEntriesRequest, type AppendEntriesResponse, type Message } from '../types.js';
import { FakeNetwork, TEST_ELECTION_TICKS, TEST_HEARTBEAT_TICKS, command, commandsOf } from './testing/fake-network.js';

function appendsTo(msgs: Message[], to: string): AppendEntriesRequest[] {
  return msgs.filter((m): m is AppendEntriesRequest => m.type === 'AppendEntries' && m.to === to);
}

function expectSameLogs(net: FakeNetwork, ids: string[]): void {
  const reference = net.core(ids[0]).status();
  for (const id of ids.slice(1)) {
    const st = net.core(id).status();
    expect(st.lastIndex).toBe(reference.lastIndex);
    for (let i = Math.max(st.firstIndex, reference.firstIndex); i <= st.lastIndex; i++) {
      expect(net.core(id).entry(i)?.term).toBe(net.core(ids[0]).entry(i)?.term);
    }
  }
}

describe('replication', () => {
  it('replicates and commits proposals on every server, each entry applied exactly once', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    for (let i = 0; i < 5; i++) net.core('a').propose(EntryType.Command, command(`x${i}`));
    net.stabilize();
    net.tickAll(1);
    for (const id of ['a', 'b', 'c']) {
      expect(commandsOf(net.server(id).applied)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4']);
      expect(net.core(id).status().commitIndex).toBe(7);
    }
  });

  it('followers refuse a mismatched prevLog and never truncate matching entries on stale appends', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'], config: { checkQuorum: false } });
    const b = net.core('b');
    b.ready();
    const entry = (index: number, term: number) => ({ index, term, type: EntryType.Command, data: command(`${index}`) });
    const append = (prevLogIndex: number, prevLogTerm: number, entries: ReturnType<typeof entry>[], leaderCommit = 0): AppendEntriesRequest => ({
      type: 'AppendEntries', from: 'a', to: 'b', term: 2, prevLogIndex, prevLogTerm, entries, leaderCommit, readCtx: 0,
    });
    const answer = () => b.ready().messages[0] as AppendEntriesResponse;

    b.step(append(1, 1, [entry(2, 2), entry(3, 2), entry(4, 2)], 10));
    expect(answer()).toMatchObject({ success: true, matchIndex: 4 });
    expect(b.status().commitIndex).toBe(4);

    // A delayed, shorter copy of an earlier append: acknowledged for what it covers, nothing dropped.
    b.step(append(1, 1, [entry(2, 2)], 1));
    expect(answer()).toMatchObject({ success: true, matchIndex: 2 });
    expect(b.status().lastIndex).toBe(4);
    expect(b.status().commitIndex).toBe(4);

    b.step(append(7, 2, []));
    expect(answer()).toMatchObject({ success: false, rejectedIndex: 7, hintIndex: 4, hintTerm: 2 });
    b.step(append(4, 3, []));
    expect(answer()).toMatchObject({ success: false, rejectedIndex: 4 });
  });

  it('truncates a conflicting uncommitted suffix and takes the leader\'s entries', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.isolate('a');
    for (let i = 0; i < 3; i++) net.core('a').propose(EntryType.Command, command(`lost${i}`));
    net.stabilize();
    expect(net.core('a').status().lastIndex).toBe(5);

    net.tick('c', TEST_ELECTION_TICKS); // let c's lease on a expire
    net.elect('b');
    net.core('b').propose(EntryType.Command, command('kept'));
    net.stabilize();
    net.heal();
    net.tickAll(2);
    expect(net.leaders()).toEqual(['b']);
    expectSameLogs(net, ['b', 'a', 'c']);
    expect(commandsOf(net.server('a').applied)).toEqual(['kept']);
    expect(commandsOf(net.server('a').log)).toEqual(['kept']);
  });

  it('fast back-off skips a long divergent suffix in a couple of round trips', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'], config: { maxEntriesPerMessage: 1000 } });
    net.elect('a');
    net.isolate('a');
    for (let i = 0; i < 200; i++) net.core('a').propose(EntryType.Command, command(`stale${i}`));
    net.stabilize();
    net.tick('c', TEST_ELECTION_TICKS);
    net.elect('b');
    for (let i = 0; i < 300; i++) net.core('b').propose(EntryType.Command, command(`new${i}`));
    net.stabilize();
    net.heal();
    const before = net.dropped.length;
    let rejections = 0;
    const count = (m: Message) => {
      if (m.type === 'AppendEntriesResponse' && m.from === 'a' && !m.success && m.term === net.core('b').status().term) rejections++;
      return true;
    };
    for (let round = 0; round < 5; round++) {
      net.tick('b');
      for (let i = 0; i < 50; i++) {
        net.flushReadies();
        net.inflight.forEach(count);
        net.deliver();
      }
    }
    expect(net.dropped.length).toBe(before);
    expect(rejections).toBeLessThanOrEqual(2);
    expectSameLogs(net, ['b', 'a']);
  });

  it('batches entries by count and by bytes, an oversized entry going alone', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'], config: { maxEntriesPerMessage: 3, maxBytesPerMessage: 10 } });
    net.elect('a');
    const a = net.core('a');
    for (let i = 0; i < 5; i++) a.propose(EntryType.Command, new Uint8Array(4));
    a.propose(EntryType.Command, new Uint8Array(25));
    for (let i = 0; i < 4; i++) a.propose(EntryType.Command, new Uint8Array(1));
    const sizes = appendsTo(a.ready().messages, 'b').map((m) => m.entries.map((e) => e.data.length));
    expect(sizes).toEqual([[4, 4], [4, 4], [4], [25], [1, 1, 1], [1]]);
  });

  it('pipelines at most maxInflightMessages appends and recovers when they are lost', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'], config: { maxEntriesPerMessage: 1, maxInflightMessages: 4 } });
    net.elect('a');
    const a = net.core('a');
    expect(a.status().progress.b.state).toBe('replicate');
    for (let i = 0; i < 10; i++) a.propose(EntryType.Command, command(`p${i}`));
    net.flushReadies();
    expect(appendsTo(net.inflight, 'b').map((m) => m.entries[0].index)).toEqual([3, 4, 5, 6]);
    expect(a.status().progress.b.inflight).toBe(4);

    net.inflight = []; // lost
    for (let i = 0; i < 10 && a.status().commitIndex < 12; i++) {
      net.tick('a');
      net.stabilize();
      expect(a.status().progress.b.inflight).toBeLessThanOrEqual(4);
    }
    expect(a.status().commitIndex).toBe(12);
    expect(commandsOf(net.server('b').log)).toHaveLength(10);
  });

  it('answers replies that bring nothing new with at most one empty append per heartbeat interval', () => {
    // Under steady load an entry is always in flight; if every reply to an empty append provoked
    // another one, the leader and its followers would ping-pong empty appends without end.
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    const leader = net.core('a');
    leader.propose(EntryType.Command, command('in flight'));
    net.flushReadies();
    net.deliver(() => false); // the append stays in flight
    const match = leader.status().progress.b.match;
    const reply: AppendEntriesResponse = {
      type: 'AppendEntriesResponse', from: 'b', to: 'a', term: leader.status().term, success: true,
      matchIndex: match, rejectedIndex: 0, hintIndex: 0, hintTerm: 0, readCtx: 0,
    };
    const emptyAppendsToB = () => leader.ready().messages.filter((m) => m.type === 'AppendEntries' && m.to === 'b' && m.entries.length === 0).length;
    let sent = 0;
    for (let i = 0; i < 10; i++) {
      leader.step({ ...reply });
      sent += emptyAppendsToB();
    }
    expect(sent).toBe(1);
    net.tick('a', TEST_HEARTBEAT_TICKS); // a heartbeat re-arms the probe
    leader.ready();
    leader.step({ ...reply });
    expect(emptyAppendsToB()).toBe(1);
  });

  it('frees window slots as acknowledgements arrive', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'], config: { maxEntriesPerMessage: 1, maxInflightMessages: 4 } });
    net.elect('a');
    const a = net.core('a');
    for (let i = 0; i < 6; i++) a.propose(EntryType.Command, command(`p${i}`));
    net.flushReadies();
    net.deliver((m) => m.type === 'AppendEntries' && m.entries[0]?.index === 3); // b answers the first only
    net.flushReadies();
    net.deliver((m) => m.type === 'AppendEntriesResponse');
    net.flushReadies();
    expect(a.status().progress.b).toMatchObject({ match: 3, inflight: 4 });
    expect(appendsTo(net.inflight, 'b').map((m) => m.entries[0].index)).toEqual([4, 5, 6, 7]);
  });

  it('the leader counts its own log towards commit only once the driver persisted it', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.cutLink('a', 'b');
    const a = net.core('a');
    a.propose(EntryType.Command, command('x'));
    const rd = a.ready();
    for (const m of rd.messages) if (m.to === 'c') net.core('c').step(m);
    net.processReady('c');
    for (const m of net.inflight.splice(0)) if (m.to === 'a') a.step(m);
    expect(a.status().progress.c.match).toBe(3);
    expect(a.status().commitIndex).toBe(2);
    a.advance(rd);
    expect(a.status().commitIndex).toBe(3);
  });

  it('ignores stale-term responses and duplicate acknowledgements', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    const a = net.core('a');
    a.propose(EntryType.Command, command('x'));
    net.flushReadies();
    net.deliver();
    net.flushReadies();
    const acks = net.inflight.filter((m) => m.type === 'AppendEntriesResponse');
    net.deliver();
    const before = a.status();
    for (const m of acks) a.step(m); // duplicates
    a.step({ ...acks[0], term: 1, matchIndex: 99 } as Message); // from an old term
    expect(a.status().progress).toEqual(before.progress);
    expect(a.status().commitIndex).toBe(3);
    net.stabilize();
    expect(commandsOf(net.server('a').applied)).toEqual(['x']);
  });

  it('a rejoining stale leader learns the new term from its rejected appends', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.isolate('a');
    net.tick('c', TEST_ELECTION_TICKS);
    net.elect('b');
    net.heal();
    net.tick('a');
    net.stabilize();
    expect(net.core('a').status()).toMatchObject({ role: 'follower', term: net.core('b').status().term });
    net.tick('b');
    net.stabilize();
    expect(net.core('a').status().leader).toBe('b');
  });
});

describe('commit rule (Raft figure 8)', () => {
  /**
   * s1 leads term 2 and gets entry 3 onto s2 only; s5 wins term 3 with s3, s4 and appends its own
   * entry 3 that reaches nobody; s1 wins term 4 and copies its entry 3 to a majority. Counting those
   * replicas must not commit it: s5 can still win term 5 and overwrite it.
   */
  function figure8(commitWithoutOwnTerm: boolean) {
    const net = new FakeNetwork({
      voters: ['s1', 's2', 's3', 's4', 's5'],
      config: { checkQuorum: false, maxEntriesPerMessage: 1 },
      bugs: { commitWithoutOwnTerm },
    });
    net.elect('s1');
    for (const id of ['s3', 's4', 's5']) net.cutLink('s1', id);
    net.core('s1').propose(EntryType.Command, command('from-term-2'));
    net.stabilize();

    net.isolate('s1');
    net.dropIf = (m) => m.from === 's5' && m.type === 'AppendEntries';
    net.elect('s5');
    expect(net.core('s5').status()).toMatchObject({ term: 3, lastIndex: 3 });

    net.heal();
    net.isolate('s5');
    net.dropIf = (m) => m.type === 'AppendEntries' && m.entries.some((e) => e.term === 4);
    net.elect('s1');
    expect(net.core('s1').status().term).toBe(4);
    net.tickAll(0);
    for (let i = 0; i < 3; i++) {
      net.tick('s1');
      net.stabilize();
    }
    for (const id of ['s2', 's3', 's4']) expect(net.core(id).entry(3)?.term).toBe(2);
    return net;
  }

  it('a leader does not commit an entry of an earlier term by counting replicas', () => {
    const net = figure8(false);
    expect(net.core('s1').status().commitIndex).toBe(2);
  });

  it('with the planted bug it does, and a later leader overwrites the committed entry', () => {
    const net = figure8(true);
    expect(net.core('s1').status().commitIndex).toBe(3);
    expect(net.server('s1').applied[2]).toMatchObject({ index: 3, term: 2 });

    net.heal();
    net.dropIf = () => false;
    net.isolate('s1');
    net.elect('s5');
    net.tick('s5');
    net.stabilize();
    expect(net.core('s5').status().commitIndex).toBeGreaterThanOrEqual(3);
    expect(net.server('s5').applied.find((e) => e.index === 3)).toMatchObject({ term: 3 });
    expect(net.server('s2').log.find((e) => e.index === 3)).toMatchObject({ term: 3 });
  });
});
