import { describe, expect, it } from 'vitest';
import { resolveOptions, tickCounts, type RaftOptions } from './options.js';
import { InmemLogStore, InmemSnapshotStore, InmemStableStore } from './storage/memory.js';
import { KvFsm } from './test-cluster.js';
import { InmemNetwork } from './transport/inmem.js';

function options(overrides: Partial<RaftOptions> = {}): RaftOptions {
  return {
    id: 'a',
    fsm: new KvFsm(),
    logStore: new InmemLogStore(),
    stableStore: new InmemStableStore(),
    snapshotStore: new InmemSnapshotStore(),
    transport: new InmemNetwork().connect('a'),
    ...overrides,
  };
}

describe('RaftNode options', () => {
  it("defaults to hashicorp/raft's timing: a heartbeat every tenth of the heartbeat timeout", () => {
    const resolved = resolveOptions(options());
    expect(resolved).toMatchObject({ tickMs: 50, heartbeatTimeoutMs: 1000, electionTimeoutMs: 1000, preVote: true, checkQuorum: true });
    expect(tickCounts(resolved)).toEqual({ electionTicks: 20, heartbeatTicks: 2 });
  });

  it('keeps the election timeout above the heartbeat interval however coarse the tick', () => {
    expect(tickCounts(resolveOptions(options({ tickMs: 10, heartbeatTimeoutMs: 150, electionTimeoutMs: 100 })))).toEqual({
      electionTicks: 15,
      heartbeatTicks: 2,
    });
    const coarse = tickCounts(resolveOptions(options({ tickMs: 100, heartbeatTimeoutMs: 100, electionTimeoutMs: 100 })));
    expect(coarse.heartbeatTicks).toBe(1);
    expect(coarse.electionTicks).toBeGreaterThan(coarse.heartbeatTicks);
  });

  it('rejects an empty id and non-positive timings', () => {
    expect(() => resolveOptions(options({ id: '' }))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => resolveOptions(options({ tickMs: 0 }))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => resolveOptions(options({ maxInflight: -1 }))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
