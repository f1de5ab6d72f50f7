import { describe, expect, it } from 'vitest';
import { RaftError, type Configuration } from '../types.js';
import { ConfigurationHistory, applyConfigurationChange } from './configuration.js';
import { quorumMatchIndex, quorumSize, voteOutcome } from './quorum.js';

const abc: Configuration = {
  servers: [
    { id: 'a', address: 'a1', suffrage: 'voter' },
    { id: 'b', address: 'b1', suffrage: 'voter' },
    { id: 'c', address: 'c1', suffrage: 'nonvoter' },
  ],
};

describe('quorum math', () => {
  it('sizes quorums and finds the index a quorum holds', () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
    const match: Record<string, number> = { a: 9, b: 4, c: 7, d: 1, e: 7 };
    expect(quorumMatchIndex(['a', 'b', 'c', 'd', 'e'], (id) => match[id])).toBe(7);
    expect(quorumMatchIndex(['a', 'b'], (id) => match[id])).toBe(4);
    expect(quorumMatchIndex([], () => 5)).toBe(0);
  });

  it('tallies votes of voters only', () => {
    const votes = new Map([
      ['a', true],
      ['x', true],
    ]);
    expect(voteOutcome(['a', 'b', 'c'], votes)).toBe('pending');
    votes.set('b', true);
    expect(voteOutcome(['a', 'b', 'c'], votes)).toBe('won');
    expect(voteOutcome(['a', 'b', 'c'], new Map([['b', false], ['c', false]]))).toBe('lost');
  });
});

describe('configuration changes', () => {
  it('adds, re-adds, demotes and removes single servers', () => {
    const added = applyConfigurationChange(abc, { kind: 'addVoter', id: 'd', address: 'd1' });
    expect(added.servers.map((s) => s.id)).toEqual(['a', 'b', 'c', 'd']);
    const promoted = applyConfigurationChange(abc, { kind: 'addVoter', id: 'c', address: 'c2' });
    expect(promoted.servers[2]).toEqual({ id: 'c', address: 'c2', suffrage: 'voter' });
    expect(applyConfigurationChange(abc, { kind: 'demoteVoter', id: 'b' }).servers[1].suffrage).toBe('nonvoter');
    expect(applyConfigurationChange(abc, { kind: 'removeServer', id: 'a' }).servers.map((s) => s.id)).toEqual(['b', 'c']);
    expect(abc.servers).toHaveLength(3); // the input is left alone
  });

  it('rejects unknown servers and voterless configurations', () => {
    expect(() => applyConfigurationChange(abc, { kind: 'removeServer', id: 'z' })).toThrow(RaftError);
    const one: Configuration = { servers: [abc.servers[0]] };
    expect(() => applyConfigurationChange(one, { kind: 'removeServer', id: 'a' })).toThrow(/at least one voter/);
  });

  it('the history falls back on truncation and prunes what no one will ask about', () => {
    const h = new ConfigurationHistory({ index: 1, configuration: abc });
    h.add({ index: 5, configuration: { servers: [] } });
    h.add({ index: 8, configuration: abc });
    expect(h.latest().index).toBe(8);
    expect(h.at(6).index).toBe(5);
    h.truncateFrom(8);
    expect(h.latest().index).toBe(5);
    h.prune(6);
    expect(h.at(2).index).toBe(5);
    h.truncateFrom(1);
    expect(h.latest().index).toBe(5); // the base is never dropped
  });
});
