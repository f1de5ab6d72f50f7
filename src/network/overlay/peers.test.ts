import { describe, expect, it } from 'vitest';
import { isEmptyPlan, planPeers } from './peers.js';

const B = '192.168.1.2';
const C = '192.168.1.3';

describe('planPeers', () => {
  it('adds an FDB and a neighbour entry per missing peer', () => {
    const plan = planPeers({ neighbours: [], fdb: [] }, [{ address: '10.0.1.3', underlay: B }]);
    expect(plan).toEqual({
      neighboursToRemove: [],
      fdbToRemove: [],
      fdbToAdd: [{ mac: '02:42:0a:00:01:03', dst: B }],
      neighboursToAdd: [{ address: '10.0.1.3', mac: '02:42:0a:00:01:03' }],
    });
  });

  it('plans nothing when the tables already hold the desired set', () => {
    const plan = planPeers(
      { neighbours: [{ address: '10.0.1.3', mac: '02:42:0a:00:01:03' }], fdb: [{ mac: '02:42:0a:00:01:03', dst: B }] },
      [{ address: '10.0.1.3', underlay: B }, { address: '10.0.1.3', underlay: B }],
    );
    expect(isEmptyPlan(plan)).toBe(true);
  });

  it('removes peers no longer wanted and whatever entries it did not make', () => {
    const plan = planPeers(
      {
        neighbours: [{ address: '10.0.1.3', mac: '02:42:0a:00:01:03' }, { address: '10.0.1.4', mac: '02:42:0a:00:01:04' }],
        fdb: [{ mac: '02:42:0a:00:01:03', dst: B }, { mac: '02:42:0a:00:01:04', dst: C }, { mac: '00:00:00:00:00:00', dst: C }],
      },
      [{ address: '10.0.1.3', underlay: B }],
    );
    expect(plan.neighboursToRemove).toEqual(['10.0.1.4']);
    expect(plan.fdbToRemove).toEqual([{ mac: '02:42:0a:00:01:04', dst: C }, { mac: '00:00:00:00:00:00', dst: C }]);
    expect(plan.fdbToAdd).toEqual([]);
    expect(plan.neighboursToAdd).toEqual([]);
  });

  it('moves a peer whose address now lives on another node, keeping its neighbour entry', () => {
    const plan = planPeers(
      { neighbours: [{ address: '10.0.1.3', mac: '02:42:0a:00:01:03' }], fdb: [{ mac: '02:42:0a:00:01:03', dst: B }] },
      [{ address: '10.0.1.3', underlay: C }],
    );
    expect(plan).toEqual({
      neighboursToRemove: [],
      fdbToRemove: [{ mac: '02:42:0a:00:01:03', dst: B }],
      fdbToAdd: [{ mac: '02:42:0a:00:01:03', dst: C }],
      neighboursToAdd: [],
    });
  });

  it('replaces a neighbour entry with the wrong MAC', () => {
    const plan = planPeers(
      { neighbours: [{ address: '10.0.1.3', mac: 'aa:bb:cc:dd:ee:ff' }], fdb: [{ mac: '02:42:0a:00:01:03', dst: B }] },
      [{ address: '10.0.1.3', underlay: B }],
    );
    expect(plan.neighboursToRemove).toEqual(['10.0.1.3']);
    expect(plan.neighboursToAdd).toEqual([{ address: '10.0.1.3', mac: '02:42:0a:00:01:03' }]);
  });

  it('refuses one address on two nodes, and anything that is not an IPv4 address', () => {
    const empty = { neighbours: [], fdb: [] };
    expect(() => planPeers(empty, [{ address: '10.0.1.3', underlay: B }, { address: '10.0.1.3', underlay: C }])).toThrow(/on two nodes/);
    expect(() => planPeers(empty, [{ address: '10.0.1.3 dev lo', underlay: B }])).toThrow(/invalid IPv4 address/);
    expect(() => planPeers(empty, [{ address: '10.0.1.3', underlay: 'node-b' }])).toThrow(/invalid IPv4 address/);
  });
});
