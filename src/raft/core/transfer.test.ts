import { describe, expect, it } from 'vitest';
import { EntryType, RaftError } from '../types.js';
import { FakeNetwork, TEST_ELECTION_TICKS, command, commandsOf } from './testing/fake-network.js';

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date voter despite the followers\' leases', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.tickAll(1);
    expect(net.core('a').transferLeadership('b')).toBe('b');
    net.stabilize();
    expect(net.leaders()).toEqual(['b']);
    expect(net.core('b').status().term).toBe(3);
    expect(net.core('a').status()).toMatchObject({ role: 'follower', leader: 'b', leadTransferee: '' });
  });

  it('catches a lagging target up before telling it to campaign', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.cutLink('a', 'b');
    for (let i = 0; i < 5; i++) net.core('a').propose(EntryType.Command, command(`x${i}`));
    net.stabilize();
    net.heal();
    net.core('a').transferLeadership('b');
    const timeoutNowAt: number[] = [];
    net.dropIf = (m) => {
      if (m.type === 'TimeoutNow') timeoutNowAt.push(net.core('b').status().lastIndex);
      return false;
    };
    net.stabilize();
    expect(timeoutNowAt).toEqual([7]);
    expect(net.leaders()).toEqual(['b']);
    net.tickAll(1);
    expect(commandsOf(net.server('b').applied)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4']);
  });

  it('refuses proposals meanwhile and gives up after an election timeout', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.cutLink('a', 'b');
    const a = net.core('a');
    a.transferLeadership('b');
    expect(a.status().leadTransferee).toBe('b');
    expect(() => a.propose(EntryType.Command, command('x'))).toThrow(RaftError);
    expect(() => a.propose(EntryType.Command, command('x'))).toThrow(/leadership is moving/);
    expect(() => a.transferLeadership('c')).toThrow(/already transferring/);
    net.tick('a', TEST_ELECTION_TICKS);
    expect(a.status()).toMatchObject({ leadTransferee: '', role: 'leader' });
    expect(a.propose(EntryType.Command, command('x')).index).toBe(3);
  });

  it('picks the most up-to-date voter when no target is given', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'], nonvoters: ['n'] });
    net.elect('a');
    net.cutLink('a', 'b');
    net.core('a').propose(EntryType.Command, command('x'));
    net.stabilize();
    expect(net.core('a').transferLeadership()).toBe('c');
  });

  it('refuses targets that cannot lead', () => {
    const net = new FakeNetwork({ voters: ['a', 'b'], nonvoters: ['n'] });
    net.elect('a');
    const a = net.core('a');
    expect(() => a.transferLeadership('a')).toThrow(/itself/);
    expect(() => a.transferLeadership('n')).toThrow(/not a voter/);
    expect(() => a.transferLeadership('zz')).toThrow(/not in the configuration/);
    expect(() => net.core('b').transferLeadership('b')).toThrow(/not the leader/);
  });
});
