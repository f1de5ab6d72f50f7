import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cluster, Node, NodeRole, NodeState } from '../../proto/gen/objects.js';
import { silentLogger } from '../common/logger.js';
import type { Configuration, Server } from '../raft/types.js';
import { createTestStore } from '../store/testing/index.js';
import type { ReplicatedStore } from '../store/replicated-store.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { RoleManager, type RaftMembership } from './role-manager.js';

/**
 * A FAKE of the Raft membership side: a configuration the test sets, changes applied at once (and
 * recorded), per-server match indexes and reachability. No consensus behind it.
 */
class FakeRaftMembership implements RaftMembership {
  index = 1;
  lastIndex = 1_000;
  readonly match = new Map<string, number>();
  readonly unreachable = new Set<string>();
  readonly calls: string[] = [];
  transferred = false;

  constructor(
    readonly selfId: string,
    public servers: Server[],
  ) {}

  getConfiguration(): { configuration: Configuration; index: number } {
    return { configuration: { servers: this.servers.map((s) => ({ ...s })) }, index: this.index };
  }

  progress(id: string): { matchIndex: number; lastIndex: number } | undefined {
    const match = this.match.get(id);
    return match === undefined ? undefined : { matchIndex: match, lastIndex: this.lastIndex };
  }

  reachable(id: string): boolean {
    return !this.unreachable.has(id);
  }

  async addVoter(id: string, address: string, prevIndex: number): Promise<unknown> {
    return this.change(`addVoter ${id}`, prevIndex, () => {
      this.servers = [...this.servers.filter((s) => s.id !== id), { id, address, suffrage: 'voter' }];
    });
  }

  async demoteVoter(id: string, prevIndex: number): Promise<unknown> {
    return this.change(`demoteVoter ${id}`, prevIndex, () => {
      this.servers = this.servers.map((s) => (s.id === id ? { ...s, suffrage: 'nonvoter' } : s));
    });
  }

  async removeServer(id: string, prevIndex: number): Promise<unknown> {
    return this.change(`removeServer ${id}`, prevIndex, () => {
      this.servers = this.servers.filter((s) => s.id !== id);
    });
  }

  async leadershipTransfer(): Promise<unknown> {
    this.calls.push('leadershipTransfer');
    this.transferred = true;
    return undefined;
  }

  private change(call: string, prevIndex: number, apply: () => void): { index: number } {
    this.calls.push(call);
    if (prevIndex !== this.index) throw new Error(`configuration changed (at ${this.index}, change based on ${prevIndex})`);
    apply();
    this.index += 1;
    return { index: this.index };
  }
}

const voter = (id: string): Server => ({ id, address: `${id}:4242`, suffrage: 'voter' });
const nonvoter = (id: string): Server => ({ id, address: `${id}:4242`, suffrage: 'nonvoter' });

function managerNode(id: string, desiredRole: NodeRole, role: NodeRole): Node {
  return Node.fromPartial({
    meta: { id },
    spec: { annotations: { name: '', labels: {} }, desiredRole },
    description: { hostname: id },
    status: { state: NodeState.NODE_STATE_READY },
    role,
  });
}

const { MANAGER, WORKER } = { MANAGER: NodeRole.NODE_ROLE_MANAGER, WORKER: NodeRole.NODE_ROLE_WORKER };

let running: RoleManager[] = [];

afterEach(async () => {
  for (const roles of running) await roles.stop();
  running = [];
});

async function setup(servers: Server[], nodes: Node[], removed: string[] = []) {
  const { store } = createTestStore();
  await store.update((tx) => {
    tx.clusters.create(Cluster.fromPartial({ meta: { id: 'c1' }, removedNodes: { removedAt: Object.fromEntries(removed.map((id) => [id, 1])) } }));
    for (const node of nodes) tx.nodes.create(node);
  });
  const membership = new FakeRaftMembership('m1', servers);
  const clock = new FakeClock();
  const start = () => {
    const roles = new RoleManager({ store, membership, clock, logger: silentLogger, intervalMs: 1_000, catchUpEntries: 100 });
    running.push(roles);
    roles.start();
    return roles;
  };
  return { store, membership, clock, start };
}

const roleOf = (store: ReplicatedStore, id: string) => store.view((tx) => tx.nodes.get(id)?.role);
const suffrageOf = (membership: FakeRaftMembership, id: string) => membership.servers.find((s) => s.id === id)?.suffrage;

/** Lets every pass the role manager has queued run (store writes settle on later event-loop turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('RoleManager', () => {
  it('promotes a joining manager only once it has caught up, then records it as a manager', async () => {
    const { store, membership, clock, start } = await setup([voter('m1'), nonvoter('m2')], [managerNode('m2', MANAGER, WORKER)]);
    membership.match.set('m2', 10);
    start();
    await settle();
    expect(membership.calls).toEqual([]);
    expect(roleOf(store, 'm2')).toBe(WORKER);

    membership.match.set('m2', 950);
    clock.advance(1_000);
    await vi.waitFor(() => expect(roleOf(store, 'm2')).toBe(MANAGER));
    expect(membership.calls).toEqual(['addVoter m2']);
    expect(suffrageOf(membership, 'm2')).toBe('voter');
  });

  it('demotes a manager asked to be a worker to a non-voter and records it as a worker', async () => {
    const { store, membership, start } = await setup([voter('m1'), voter('m2'), voter('m3')], [managerNode('m2', WORKER, MANAGER)]);
    start();
    await vi.waitFor(() => expect(roleOf(store, 'm2')).toBe(WORKER));
    expect(membership.calls).toEqual(['demoteVoter m2']);
    expect(suffrageOf(membership, 'm2')).toBe('nonvoter');
  });

  it('never demotes the last voter, and waits while a demotion would lose the quorum', async () => {
    const alone = await setup([voter('m1')], [managerNode('m1', WORKER, MANAGER)]);
    alone.start();
    await settle();
    expect(alone.membership.calls).toEqual([]);
    expect(roleOf(alone.store, 'm1')).toBe(MANAGER);

    const { store, membership, clock, start } = await setup([voter('m1'), voter('m2'), voter('m3')], [managerNode('m2', WORKER, MANAGER)]);
    membership.unreachable.add('m3');
    start();
    await settle();
    expect(membership.calls).toEqual([]);

    membership.unreachable.delete('m3');
    clock.advance(1_000);
    await vi.waitFor(() => expect(roleOf(store, 'm2')).toBe(WORKER));
    expect(membership.calls).toEqual(['demoteVoter m2']);
  });

  it('hands leadership over rather than demoting itself', async () => {
    const { store, membership, start } = await setup([voter('m1'), voter('m2'), voter('m3')], [managerNode('m1', WORKER, MANAGER)]);
    start();
    await vi.waitFor(() => expect(membership.transferred).toBe(true));
    expect(membership.calls[0]).toBe('leadershipTransfer');
    expect(membership.calls).not.toContain('demoteVoter m1');
    expect(roleOf(store, 'm1')).toBe(MANAGER);
  });

  it('takes a removed manager out of Raft', async () => {
    const { membership, start } = await setup([voter('m1'), voter('m2'), voter('m3')], [], ['m3']);
    membership.unreachable.add('m3');
    start();
    await vi.waitFor(() => expect(membership.calls).toEqual(['removeServer m3']));
    expect(membership.servers.map((s) => s.id)).toEqual(['m1', 'm2']);
  });

  it('leaves alone Raft servers that have no node object, and nodes that are no Raft member', async () => {
    const { store, membership, start } = await setup([voter('m1'), voter('m2'), nonvoter('m3')], [managerNode('w1', MANAGER, WORKER), managerNode('w2', WORKER, WORKER)]);
    start();
    await settle();
    expect(membership.calls).toEqual([]);
    expect(roleOf(store, 'w1')).toBe(WORKER);
  });

  it('resumes after failover from the store and the Raft configuration', async () => {
    // The old leader demoted m2 and promoted m4 in Raft, then failed before recording either role,
    // and m3's removal was recorded but not carried out.
    const { store, membership, start } = await setup(
      [voter('m1'), nonvoter('m2'), voter('m3'), voter('m4')],
      [managerNode('m2', WORKER, MANAGER), managerNode('m4', MANAGER, WORKER)],
      ['m3'],
    );
    membership.unreachable.add('m3');
    start();
    await vi.waitFor(() => {
      expect(roleOf(store, 'm2')).toBe(WORKER);
      expect(roleOf(store, 'm4')).toBe(MANAGER);
      expect(membership.calls).toEqual(['removeServer m3']);
    });
  });

  it('retries a change refused by Raft on the next check', async () => {
    const { store, membership, clock, start } = await setup([voter('m1'), voter('m2'), voter('m3')], [managerNode('m2', WORKER, MANAGER)]);
    const demote = membership.demoteVoter.bind(membership);
    let refusals = 1;
    membership.demoteVoter = async (id, prevIndex) => {
      if (refusals-- > 0) throw new Error('configuration change in progress');
      return demote(id, prevIndex);
    };
    start();
    await settle();
    expect(suffrageOf(membership, 'm2')).toBe('voter');
    clock.advance(1_000);
    await vi.waitFor(() => expect(roleOf(store, 'm2')).toBe(WORKER));
  });
});
