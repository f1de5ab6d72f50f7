import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.js';
import { EntryType, encodeConfiguration, type Message, type RequestVoteResponse } from '../types.js';
import { RaftCore } from './raft.js';
import { FakeNetwork, TEST_ELECTION_TICKS } from './testing/fake-network.js';

const threeVoters = encodeConfiguration({
  servers: ['a', 'b', 'c'].map((id) => ({ id, address: id, suffrage: 'voter' as const })),
});

function lonelyCore(opts: { term?: number; vote?: string; lastTerm?: number; length?: number; checkQuorum?: boolean } = {}) {
  const entries = [{ index: 1, term: 1, type: EntryType.Configuration, data: threeVoters }];
  for (let i = 2; i <= (opts.length ?? 1); i++) {
    entries.push({ index: i, term: opts.lastTerm ?? 1, type: EntryType.Noop, data: new Uint8Array() });
  }
  return new RaftCore(
    {
      id: 'a',
      electionTicks: TEST_ELECTION_TICKS,
      heartbeatTicks: 1,
      maxEntriesPerMessage: 64,
      maxBytesPerMessage: 1 << 20,
      maxInflightMessages: 8,
      preVote: true,
      checkQuorum: opts.checkQuorum ?? true,
      random: seededRandom(7),
    },
    { hardState: { term: opts.term ?? 1, vote: opts.vote ?? '' }, entries },
  );
}

function voteRequest(over: Partial<Extract<Message, { type: 'RequestVote' }>> = {}): Message {
  return {
    type: 'RequestVote',
    from: 'b',
    to: 'a',
    term: 2,
    lastLogIndex: 1,
    lastLogTerm: 1,
    preVote: false,
    leadershipTransfer: false,
    ...over,
  };
}

function voteAnswers(core: RaftCore): RequestVoteResponse[] {
  return core.ready().messages.filter((m): m is RequestVoteResponse => m.type === 'RequestVoteResponse');
}

describe('elections', () => {
  it('a single voter elects itself and commits its noop once persisted', () => {
    const net = new FakeNetwork({ voters: ['a'] });
    net.tick('a', 2 * TEST_ELECTION_TICKS);
    const core = net.core('a');
    expect(core.status().role).toBe('leader');
    expect(core.status().term).toBe(2);
    expect(core.status().commitIndex).toBe(0); // the noop is not durable yet
    net.stabilize();
    expect(core.status().commitIndex).toBe(2);
    expect(net.server('a').applied.map((e) => e.type)).toEqual([EntryType.Configuration, EntryType.Noop]);
  });

  it('three voters elect one leader whose noop commits everywhere', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.tickAll(2);
    expect(net.leaders()).toEqual(['a']);
    for (const id of ['a', 'b', 'c']) {
      const st = net.core(id).status();
      expect(st.leader).toBe('a');
      expect(st.commitIndex).toBe(2);
      expect(net.server(id).log[1]).toMatchObject({ index: 2, term: 2, type: EntryType.Noop });
    }
  });

  it('grants a vote to an up-to-date candidate and records it before answering', () => {
    const core = lonelyCore();
    core.step(voteRequest());
    const rd = core.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 'b' });
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'RequestVoteResponse', to: 'b', term: 2, granted: true })]);
  });

  it('refuses candidates whose log is behind, by last term and by length', () => {
    const byTerm = lonelyCore({ length: 3, lastTerm: 2, term: 2 });
    byTerm.step(voteRequest({ term: 3, lastLogIndex: 9, lastLogTerm: 1 }));
    expect(voteAnswers(byTerm)).toEqual([expect.objectContaining({ granted: false, term: 3 })]);
    expect(byTerm.status().vote).toBe('');

    const byLength = lonelyCore({ length: 3, lastTerm: 1 });
    byLength.step(voteRequest({ term: 2, lastLogIndex: 2, lastLogTerm: 1 }));
    expect(voteAnswers(byLength)[0].granted).toBe(false);
  });

  it('votes once per term and refuses older terms', () => {
    const core = lonelyCore();
    core.step(voteRequest({ from: 'b' }));
    core.step(voteRequest({ from: 'c' }));
    core.step(voteRequest({ from: 'b' })); // a retransmission is granted again
    expect(voteAnswers(core).map((m) => [m.to, m.granted])).toEqual([
      ['b', true],
      ['c', false],
      ['b', true],
    ]);
    core.step(voteRequest({ from: 'c', term: 1 }));
    expect(voteAnswers(core)).toEqual([expect.objectContaining({ to: 'c', granted: false, term: 2 })]);
  });

  it('campaigns with a pre-vote that leaves the term alone until a quorum agrees', () => {
    const core = lonelyCore();
    core.tick();
    for (let i = 0; i < 2 * TEST_ELECTION_TICKS; i++) core.tick();
    const rd = core.ready();
    expect(core.status().role).toBe('precandidate');
    expect(core.status().term).toBe(1);
    expect(rd.hardState).toBeUndefined();
    const requests = rd.messages.filter((m) => m.type === 'RequestVote');
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({ term: 2, preVote: true });

    core.step({ type: 'RequestVoteResponse', from: 'b', to: 'a', term: 2, granted: true, preVote: true });
    expect(core.status()).toMatchObject({ role: 'candidate', term: 2, vote: 'a' });
    expect(core.ready().messages.filter((m) => m.type === 'RequestVote')[0]).toMatchObject({ preVote: false, term: 2 });
  });

  it('a partitioned server does not inflate terms and rejoins without disrupting the leader', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    const term = net.core('a').status().term;
    net.isolate('c');
    net.tick('c', 10 * TEST_ELECTION_TICKS);
    net.stabilize();
    expect(net.core('c').status().term).toBe(term);
    net.heal();
    net.tickAll(3 * TEST_ELECTION_TICKS);
    expect(net.leaders()).toEqual(['a']);
    expect(net.core('a').status().term).toBe(term);
  });

  it('without pre-vote a partitioned server bumps its term and forces an election on return', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'], config: { preVote: false, checkQuorum: false } });
    net.elect('a');
    net.isolate('c');
    net.tick('c', 10 * TEST_ELECTION_TICKS);
    net.stabilize();
    expect(net.core('c').status().term).toBeGreaterThan(3);
    net.heal();
    net.tickAll(1);
    expect(net.core('a').status().term).toBe(net.core('c').status().term);
  });

  it('check-quorum: a leader keeps leading with a live quorum and steps down without one', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.cutLink('a', 'b');
    net.tickAll(3 * TEST_ELECTION_TICKS);
    expect(net.leaders()).toEqual(['a']);
    net.isolate('a');
    // The first check may still count answers from before the partition; the second cannot.
    for (let i = 0; i < 2 * TEST_ELECTION_TICKS; i++) net.tick('a');
    expect(net.core('a').status()).toMatchObject({ role: 'follower', leader: '', term: 2 });
  });

  it('a follower within its leader lease ignores votes and pre-votes without bumping its term', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    const b = net.core('b');
    for (const preVote of [true, false]) {
      b.step({ type: 'RequestVote', from: 'c', to: 'b', term: 9, lastLogIndex: 99, lastLogTerm: 9, preVote, leadershipTransfer: false });
    }
    expect(b.status()).toMatchObject({ term: 2, vote: 'a', leader: 'a' });
    expect(b.ready().messages).toEqual([]);

    // A transfer-triggered election overrides the lease.
    b.step({ type: 'RequestVote', from: 'c', to: 'b', term: 3, lastLogIndex: 99, lastLogTerm: 9, preVote: false, leadershipTransfer: true });
    expect(b.status()).toMatchObject({ term: 3, vote: 'c' });

    // Once the lease expired (no word from a leader), pre-votes are answered without a term change.
    const c = net.core('c');
    for (let i = 0; i < TEST_ELECTION_TICKS; i++) c.tick();
    c.ready();
    c.step({ type: 'RequestVote', from: 'b', to: 'c', term: 5, lastLogIndex: 99, lastLogTerm: 9, preVote: true, leadershipTransfer: false });
    expect(c.status().term).toBe(2);
    expect(voteAnswers(c)).toEqual([expect.objectContaining({ granted: true, term: 5, preVote: true })]);
  });

  it('a non-voter never campaigns', () => {
    const net = new FakeNetwork({ voters: ['a'], nonvoters: ['n'] });
    net.tick('n', 10 * TEST_ELECTION_TICKS);
    expect(net.core('n').status().role).toBe('follower');
    expect(net.core('n').ready().messages).toEqual([]);
  });

  it('a server with no configuration waits for a leader', () => {
    const net = new FakeNetwork({ voters: ['a'], blank: ['x'] });
    net.tick('x', 10 * TEST_ELECTION_TICKS);
    expect(net.core('x').status()).toMatchObject({ role: 'follower', term: 0 });
  });

  it('a server that is not a voter in its configuration, or has none, refuses votes and pre-votes', () => {
    // A server re-added with a wiped disk must not help a stale candidate win with a vote its
    // earlier incarnation may already have cast (the simulator found this with seeds 27 and 135).
    const net = new FakeNetwork({ voters: ['a'], nonvoters: ['n'], blank: ['x'] });
    for (const id of ['n', 'x']) {
      const core = net.core(id);
      core.step({ ...voteRequest({ to: id, preVote: true }) } as Message);
      core.step({ ...voteRequest({ to: id }) } as Message);
      const answers = voteAnswers(core);
      expect(answers.map((m) => m.granted)).toEqual([false, false]);
      expect(core.status().vote).toBe('');
    }
  });

  it('followers told their leader is unreachable elect a new one well within an election timeout', () => {
    const elect = (report: boolean): string | undefined => {
      const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
      net.elect('a');
      net.isolate('a'); // the leader's process died
      if (report) for (const id of ['b', 'c']) net.core(id).reportUnreachable('a');
      for (let t = 0; t < 3; t++) {
        for (const id of ['b', 'c']) {
          net.tick(id);
          net.stabilize();
        }
      }
      return ['b', 'c'].find((id) => net.core(id).status().role === 'leader');
    };
    expect(3).toBeLessThan(TEST_ELECTION_TICKS);
    expect(elect(false)).toBeUndefined();
    expect(elect(true)).toBeDefined();
  });

  it('a report about a server that is not the leader changes nothing', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.core('b').reportUnreachable('c');
    net.tick('b', 3);
    net.stabilize();
    expect(net.core('b').status()).toMatchObject({ role: 'follower', leader: 'a' });
  });

  it('a higher-term message makes a leader step down', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    const a = net.core('a');
    a.step({ type: 'AppendEntriesResponse', from: 'b', to: 'a', term: 7, success: false, matchIndex: 0, rejectedIndex: 0, hintIndex: 0, hintTerm: 0, readCtx: 0 });
    expect(a.status()).toMatchObject({ role: 'follower', term: 7, vote: '' });
  });
});
