import { describe, it } from 'vitest';
import { seededRandom, type Random } from '../../common/random.js';
import { EntryType, RaftError, type Entry, type ServerId, type SnapshotMeta } from '../types.js';
import { FakeNetwork, TEST_ELECTION_TICKS, command } from './testing/fake-network.js';

/**
 * Randomized runs over a lossy, duplicating, reordering network with partitions, restarts,
 * snapshots, membership changes and leadership transfers, checking Raft's safety properties
 * after every step and liveness once the network heals.
 */
function chaos(seed: number, steps: number): void {
  const rnd = seededRandom(seed);
  const net = new FakeNetwork({
    voters: ['a', 'b', 'c', 'd'],
    blank: ['e'],
    seed,
    config: { maxEntriesPerMessage: 1 + rnd.int(0, 4), maxInflightMessages: 1 + rnd.int(0, 4) },
  });
  const ids = [...net.servers.keys()];
  const leaderOfTerm = new Map<number, ServerId>();
  const committed = new Map<number, Entry>();
  let proposals = 0;

  const check = () => {
    for (const id of ids) {
      const st = net.core(id).status();
      if (st.role === 'leader') {
        const known = leaderOfTerm.get(st.term);
        if (known !== undefined && known !== id) throw new Error(`two leaders in term ${st.term}: ${known}, ${id}`);
        leaderOfTerm.set(st.term, id);
      }
      for (const e of net.server(id).applied) {
        const prior = committed.get(e.index);
        if (!prior) committed.set(e.index, e);
        else if (prior.term !== e.term || !sameBytes(prior.data, e.data)) {
          throw new Error(`${id} applied a different entry at ${e.index}`);
        }
      }
    }
  };

  for (let step = 0; step < steps; step++) {
    const action = rnd.next();
    const leader = net.leaders()[0];
    if (action < 0.35) {
      for (const id of ids) if (rnd.next() < 0.7) net.tick(id);
    } else if (action < 0.6) {
      if (leader) tryIt(() => net.core(leader).propose(EntryType.Command, command(`p${proposals++}`)));
    } else if (action < 0.62) {
      if (leader) changeMembership(net, leader, rnd);
    } else if (action < 0.63) {
      if (leader) tryIt(() => net.core(leader).transferLeadership());
    } else if (action < 0.64) {
      net.restart(pick(rnd, ids));
    } else if (action < 0.67) {
      snapshot(net, pick(rnd, ids), rnd);
    } else if (action < 0.69) {
      net.heal();
      if (rnd.next() < 0.5) net.isolate(pick(rnd, ids));
    } else if (action < 0.72) {
      if (leader) tryIt(() => net.core(leader).readIndex(step + 1));
    }
    net.flushReadies();
    deliverChaotically(net, rnd);
    check();
  }

  // Liveness: once the network is healthy a leader commits an entry of its term and every member applies it.
  net.heal();
  for (let round = 0; round < 30 * TEST_ELECTION_TICKS; round++) {
    net.tickAll(1);
    check();
    const leader = net.leaders()[0];
    if (!leader) continue;
    const st = net.core(leader).status();
    const members = st.configuration.servers.map((s) => s.id);
    if (st.lastTerm === st.term && st.commitIndex === st.lastIndex && members.every((id) => net.core(id).status().appliedIndex === st.lastIndex)) {
      return;
    }
  }
  throw new Error(`seed ${seed}: the cluster did not converge: ${debugStats(net)}`);
}

function changeMembership(net: FakeNetwork, leader: ServerId, rnd: Random): void {
  const target = pick(rnd, [...net.servers.keys()]);
  const kind = pick(rnd, ['addVoter', 'addNonvoter', 'demoteVoter', 'removeServer'] as const);
  const change =
    kind === 'addVoter' || kind === 'addNonvoter' ? { kind, id: target, address: `addr-${target}` } : { kind, id: target };
  tryIt(() => net.core(leader).proposeConfigurationChange(change, 0));
}

function deliverChaotically(net: FakeNetwork, rnd: Random): void {
  const batch = net.inflight;
  net.inflight = [];
  const keep: typeof batch = [];
  for (const m of batch) {
    const r = rnd.next();
    if (r < 0.1) continue; // lost
    if (r < 0.25) keep.push(m); // delayed
    else {
      if (r > 0.95) keep.push(m); // duplicated
      net.inflight.push(m);
    }
  }
  shuffle(net.inflight, rnd);
  net.deliver();
  net.inflight.push(...keep);
}

function snapshot(net: FakeNetwork, id: ServerId, rnd: Random): void {
  const core = net.core(id);
  const st = core.status();
  if (st.appliedIndex <= st.snapshotIndex) return;
  const at = core.configurationAt(st.appliedIndex);
  const meta: SnapshotMeta = {
    index: st.appliedIndex,
    term: core.entry(st.appliedIndex)?.term as number,
    configuration: at.configuration,
    configurationIndex: at.index,
  };
  net.server(id).snapshot = meta;
  core.snapshotTaken(meta, meta.index - rnd.int(0, 3));
}

function tryIt(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof RaftError)) throw e;
  }
}

function pick<T>(rnd: Random, xs: T[]): T {
  return xs[rnd.int(0, xs.length - 1)];
}

function shuffle<T>(xs: T[], rnd: Random): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rnd.int(0, i);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// CHAOS_SEEDS and CHAOS_STEPS widen the hunt locally (e.g. 400 seeds of 2000 steps); CI runs the default.
describe('randomized safety and liveness', () => {
  for (let seed = 1; seed <= Number(process.env.CHAOS_SEEDS ?? 30); seed++) {
    it(`seed ${seed}`, () => chaos(seed, Number(process.env.CHAOS_STEPS ?? 600)));
  }
});

/** One line per server: role, term, commit, snapshot, configuration and installed snapshots. */
function debugStats(net: FakeNetwork): string {
  return [...net.servers.keys()]
    .map((id) => {
      const s = net.core(id).status();
      const servers = s.configuration.servers.map((x) => `${x.id}${x.suffrage[0]}`).join(',');
      const installs = net.server(id).readies.filter((r) => r.snapshot).length;
      return `${id}:${s.role}:t${s.term}:c${s.commitIndex}:snap${s.snapshotIndex}:cfg${s.configurationIndex}[${servers}]:installs${installs}`;
    })
    .join(' | ');
}
