import { describe, expect, it } from 'vitest';
import { EntryType, RaftError } from '../types.js';
import { FakeNetwork, command } from './testing/fake-network.js';

describe('ReadIndex', () => {
  it('a single voter confirms reads at once, but only after committing an entry of its term', () => {
    const net = new FakeNetwork({ voters: ['a'] });
    net.tick('a', 20);
    const a = net.core('a');
    expect(a.status()).toMatchObject({ role: 'leader', commitIndex: 0 });
    a.readIndex(1);
    const rd = a.ready();
    expect(rd.readStates).toEqual([]);
    a.advance(rd); // the noop is durable: it commits, and the read is served at its index
    net.stabilize();
    expect(net.server('a').readStates).toEqual([{ ctx: 1, index: 2 }]);
    a.propose(EntryType.Command, command('x'));
    a.readIndex(2); // the proposal is not committed yet: the read point is the old commit
    net.stabilize();
    expect(net.server('a').readStates).toEqual([
      { ctx: 1, index: 2 },
      { ctx: 2, index: 2 },
    ]);
  });

  it('confirms a read once a quorum answered a heartbeat carrying its context', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.tickAll(1);
    const a = net.core('a');
    a.readIndex(7);
    net.flushReadies();
    const heartbeats = net.inflight.filter((m) => m.type === 'AppendEntries');
    expect(heartbeats.map((m) => m.type === 'AppendEntries' && m.readCtx)).toEqual([7, 7]);
    expect(net.server('a').readStates).toEqual([]);
    net.deliver((m) => m.to === 'b');
    net.flushReadies();
    net.deliver((m) => m.from === 'b');
    net.flushReadies();
    expect(net.server('a').readStates).toEqual([{ ctx: 7, index: 2 }]);
  });

  it('waits while a quorum is unreachable and retries on heartbeats; a later ack confirms earlier reads', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.isolate('a');
    const a = net.core('a');
    a.readIndex(1);
    a.readIndex(2);
    net.stabilize();
    net.tick('a');
    net.stabilize();
    expect(net.server('a').readStates).toEqual([]);
    net.heal();
    net.tick('a');
    net.stabilize();
    expect(net.server('a').readStates).toEqual([
      { ctx: 1, index: 2 },
      { ctx: 2, index: 2 },
    ]);
  });

  it('a follower refuses with NotLeader and names the leader', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    let error: unknown;
    try {
      net.core('b').readIndex(1);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RaftError);
    expect(error).toMatchObject({ code: 'NotLeader', leader: { id: 'a', address: 'addr-a' } });
  });

  it('pending reads are dropped when leadership is lost', () => {
    const net = new FakeNetwork({ voters: ['a', 'b', 'c'] });
    net.elect('a');
    net.isolate('a');
    net.core('a').readIndex(1);
    net.tick('a', 30);
    net.stabilize();
    expect(net.core('a').status().role).toBe('follower');
    net.heal();
    net.tickAll(30);
    expect(net.server('a').readStates).toEqual([]);
  });
});
