import { describe, expect, it } from 'vitest';
import { EntryType, RaftError, type Configuration } from '../types.js';
import type { RaftCore } from './raft.js';
import { FakeNetwork, TEST_ELECTION_TICKS, command, commandsOf } from './testing/fake-network.js';

function ids(c: Configuration): string[] {
  return c.servers.map((s) => `${s.id}:${s.suffrage}`);
}

function errorOf(fn: () => unknown): RaftError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof RaftError) return e;
    throw e;
  }
  return undefined;
}

function addNonvoter(core: RaftCore, id: string, prevIndex = 0) {
  return core.proposeConfigurationChange({ kind: 'addNonvoter', id, address: `addr-${id}` }, prevIndex);
}

describe('membership changes', () => {
  it('adds a voter that catches up and then counts towards the quorum', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'], blank: ['d'] });
    net.elect('a');
    const a = net.core('a');
    a.proposeConfigurationChange({ kind: 'addVoter', id: 'd', address: 'addr-d' }, 0);
    net.tickAll(2);
    const d = net.core('d').status();
    expect(ids(d.configuration)).toEqual(['a:voter', 'b:voter', 'c:voter', 'd:voter']);
    expect(d.commitIndex).toBe(3);
    expect(a.status().committedConfigurationIndex).toBe(3);

    // With four voters, a and d alone are not a quorum.
    net.cutLink('a', 'b');
    net.cutLink('a', 'c');
    a.propose(EntryType.Command, command('x'));
    net.stabilize();
    expect(a.status().commitIndex).toBe(3);
    expect(net.core('d').status().lastIndex).toBe(4);
  });

  it('allows one uncommitted change at a time', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    const a = net.core('a');
    expect(a.canChangeConfiguration()).toBe(true);
    addNonvoter(a, 'n1');
    expect(a.canChangeConfiguration()).toBe(false);
    expect(errorOf(() => addNonvoter(a, 'n2'))?.code).toBe('ConfigurationChangeInProgress');
    net.stabilize();
    expect(a.canChangeConfiguration()).toBe(true);
    expect(addNonvoter(a, 'n2').index).toBe(4);
  });

  it('waits for an entry of the leader\'s own term to commit (unless the planted bug is on)', () => {
    for (const bug of [false, true]) {
      const net = new FakeNetwork({ voters: ['a', 'b', 'c'], bugs: { configChangeWithoutOwnTermGate: bug } });
      net.elect('a');
      net.tickAll(1);
      net.isolate('a');
      net.tick('c', TEST_ELECTION_TICKS);
      net.dropIf = (m) => m.from === 'b' && m.type === 'AppendEntries'; // b's noop never leaves
      net.elect('b');
      const b = net.core('b');
      expect(b.status()).toMatchObject({ commitIndex: 2, committedConfigurationIndex: 1, term: 3 });
      expect(b.canChangeConfiguration()).toBe(bug);
      const err = errorOf(() => addNonvoter(b, 'n'));
      expect(err?.code).toBe(bug ? undefined : 'ConfigurationChangeInProgress');
    }
  });

  it('checks prevIndex and the servers named', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'] });
    net.elect('a');
    const a = net.core('a');
    expect(errorOf(() => addNonvoter(a, 'n', 2))?.code).toBe('ConfigurationMismatch');
    expect(errorOf(() => a.proposeConfigurationChange({ kind: 'removeServer', id: 'zz' }, 1))?.code).toBe('UnknownServer');
    expect(errorOf(() => a.proposeConfigurationChange({ kind: 'demoteVoter', id: 'zz' }, 0))?.code).toBe('UnknownServer');
    expect(errorOf(() => net.core('b').proposeConfigurationChange({ kind: 'removeServer', id: 'a' }, 0))?.code).toBe('NotLeader');
    a.proposeConfigurationChange({ kind: 'addVoter', id: 'b', address: 'elsewhere' }, 1);
    expect(a.status().configuration.servers.find((s) => s.id === 'b')).toEqual({ id: 'b', address: 'elsewhere', suffrage: 'voter' });
  });

  it('a configuration takes effect when appended and is forgotten when its entry is truncated', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.isolate('a');
    const a = net.core('a');
    addNonvoter(a, 'n');
    expect(ids(a.status().configuration)).toContain('n:nonvoter');
    expect(a.status().committedConfigurationIndex).toBe(1);
    expect(Object.keys(a.status().progress).sort()).toEqual(['b', 'c', 'n']);

    net.tick('c', TEST_ELECTION_TICKS);
    net.elect('b');
    net.core('b').propose(EntryType.Command, command('y'));
    net.heal();
    net.tickAll(2);
    expect(a.status()).toMatchObject({ role: 'follower', configurationIndex: 1 });
    expect(ids(a.status().configuration)).toEqual(['a:voter', 'b:voter', 'c:voter']);
    expect(commandsOf(net.server('a').applied)).toEqual(['y']);
  });

  it('non-voters receive entries but never count towards commit', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'], nonvoters: ['n'] });
    net.elect('a');
    net.cutLink('a', 'b');
    net.core('a').propose(EntryType.Command, command('x'));
    net.tickAll(1);
    expect(net.core('n').status().lastIndex).toBe(3);
    expect(net.core('a').status().commitIndex).toBe(2);
  });

  it('a leader whose removal commits steps down and never campaigns again', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    const a = net.core('a');
    a.proposeConfigurationChange({ kind: 'removeServer', id: 'a' }, 0);
    net.stabilize();
    expect(a.status()).toMatchObject({ role: 'follower', leader: '', commitIndex: 3 });
    expect(net.core('b').status().commitIndex).toBe(3);
    net.tickAll(4 * TEST_ELECTION_TICKS);
    expect(net.leaders()).toHaveLength(1);
    expect(net.leaders()[0]).not.toBe('a');
    expect(ids(net.core(net.leaders()[0]).status().configuration)).toEqual(['b:voter', 'c:voter']);
  });

  it('a demoted leader steps down too and stays a non-voter', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.core('a').proposeConfigurationChange({ kind: 'demoteVoter', id: 'a' }, 0);
    net.stabilize();
    expect(net.core('a').status().role).toBe('follower');
    net.tickAll(4 * TEST_ELECTION_TICKS);
    const leader = net.leaders()[0];
    expect(['b', 'c']).toContain(leader);
    net.core(leader).propose(EntryType.Command, command('z'));
    net.tickAll(1);
    expect(commandsOf(net.server('a').applied)).toEqual(['z']);
  });

  it('a leader that demoted itself and lost leadership before the change spread still gets it committed', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'] });
    net.elect('a');
    net.tickAll(1);
    net.isolate('a');
    net.core('a').proposeConfigurationChange({ kind: 'demoteVoter', id: 'a' }, 0);
    net.tick('a', 2 * TEST_ELECTION_TICKS); // check-quorum: a steps down, its entry uncommitted
    net.stabilize();
    expect(net.core('a').status()).toMatchObject({ role: 'follower', configurationIndex: 3, commitIndex: 2 });
    // b cannot win without a's vote, and a's log is ahead; a campaigns among the new voters (b) only.
    net.heal();
    net.tickAll(6 * TEST_ELECTION_TICKS);
    expect(net.leaders()).toEqual(['b']);
    expect(ids(net.core('b').status().committedConfiguration)).toEqual(['a:nonvoter', 'b:voter']);
  });

  it('refuses a change that would leave no voter', () => {
    const net = new FakeNetwork({ voters: ['a'] });
    net.elect('a');
    expect(errorOf(() => net.core('a').proposeConfigurationChange({ kind: 'demoteVoter', id: 'a' }, 0))?.code).toBe('InvalidArgument');
  });
});
