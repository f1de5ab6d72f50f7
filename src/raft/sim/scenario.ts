import type { Random } from '../../common/random.js';
import type { NetworkFaults } from './network.js';
import type { SimRaftTuning } from './sim-server.js';

/** What the nemesis may do, with relative weights. */
export interface FaultWeights {
  partition: number;
  oneWayCut: number;
  isolateLeader: number;
  /** The leader and one follower on the minority side: the leader keeps writing to a log only two hold. */
  leaderMinority: number;
  crash: number;
  crashLeader: number;
  pause: number;
  membership: number;
  transfer: number;
}

/**
 * One seed's fault schedule, drawn from the seed. Kinds bias the mix towards what exposes a class
 * of bug: crashes right after a server promised something, or membership changes racing leader changes.
 */
export interface Scenario {
  kind: 'mixed' | 'crash-after-promise' | 'membership-race' | 'leader-churn' | 'partitions' | 'calm';
  initialServers: number;
  keys: number;
  clients: number;
  network: NetworkFaults;
  /** Mean time between nemesis actions. */
  faultIntervalMs: number;
  weights: FaultWeights;
  /** Chance that a server crashes right after sending a vote, a term or a log acknowledgement. */
  crashAfterPromiseRate: number;
  /** Chance a new leader is asked for a membership change at once, before it commits anything. */
  changeOnNewLeaderRate: number;
  /** Chance that, with such a change, the new leader's messages to one follower are cut for a while. */
  slowFollowerOnChangeRate: number;
  /** Chance a new leader is crashed or cut off within moments, before its first entry replicates. */
  disruptNewLeaderRate: number;
  /** Of those disruptions, the share that happens at once rather than within 30 ms. */
  immediateDisruptionShare: number;
  /** Pause between a client's reply and its next request. */
  clientThinkMs: number;
  /** Virtual time under faults, before healing. */
  faultPhaseMs: number;
  tuning: SimRaftTuning;
}

export type ScenarioKind = Scenario['kind'];

/** Drawn by seeds in these proportions. */
export const SCENARIO_KINDS: readonly ScenarioKind[] = [
  'mixed',
  'mixed',
  'crash-after-promise',
  'membership-race',
  'membership-race',
  'leader-churn',
  'leader-churn',
  'partitions',
  'calm',
];

/**
 * Short timeouts, small batches, tiny segments and frequent snapshots, so elections, segment
 * rollovers, compaction and InstallSnapshot all happen many times per run.
 */
function drawTuning(random: Random, kind: ScenarioKind): SimRaftTuning {
  const batch = [1, 2, 4, 8][random.int(0, 3)];
  return {
    tickMs: 10,
    heartbeatTimeoutMs: 150,
    electionTimeoutMs: 150,
    // One entry per message lets a majority match an old term's entries before the new leader's own.
    maxAppendEntries: kind === 'leader-churn' ? random.int(1, 2) : batch,
    maxInflight: kind === 'leader-churn' ? 1 : random.int(1, 8),
    snapshotThreshold: random.int(20, 80),
    snapshotIntervalMs: 100,
    trailingLogs: random.int(4, 32),
    segmentBytes: random.int(512, 4096),
  };
}

/** One seed's scenario; `kind` forces the kind (the seed still draws everything else). */
export function drawScenario(random: Random, kind: ScenarioKind = SCENARIO_KINDS[random.int(0, SCENARIO_KINDS.length - 1)]): Scenario {
  const intensity = kind === 'calm' ? 0.2 : 0.4 + random.next() * 0.6;
  const network: NetworkFaults = {
    dropRate: kind === 'calm' ? 0 : random.next() * 0.2 * intensity,
    duplicateRate: random.next() * 0.05 * intensity,
    reorderRate: random.next() * 0.1 * intensity,
    minDelayMs: 1,
    maxDelayMs: 2 + random.int(0, 8),
    tailRate: random.next() * 0.1 * intensity,
    tailMeanMs: 20 + random.int(0, 200),
  };
  const weights: FaultWeights = {
    partition: 2,
    oneWayCut: 1,
    isolateLeader: 2,
    leaderMinority: 1,
    crash: 2,
    crashLeader: 1,
    pause: 1,
    membership: 2,
    transfer: 1,
  };
  let crashAfterPromiseRate = 0.002 * intensity;
  let changeOnNewLeaderRate = 0.1;
  let disruptNewLeaderRate = 0.05;
  let slowFollowerOnChangeRate = 0;
  let initialServers = random.int(3, 5);
  let clients = random.int(2, 4);
  if (kind === 'crash-after-promise') {
    crashAfterPromiseRate = 0.01 + 0.04 * intensity;
    weights.crash = 0;
    weights.crashLeader = 0;
  } else if (kind === 'membership-race') {
    changeOnNewLeaderRate = 0.5 + 0.5 * random.next();
    disruptNewLeaderRate = 0.3 + 0.4 * random.next();
    slowFollowerOnChangeRate = 0.5;
    initialServers = random.int(3, 4);
    weights.membership = 4;
    weights.isolateLeader = 4;
    weights.transfer = 3;
    weights.crash = 0.5;
    weights.crashLeader = 0.5;
  } else if (kind === 'leader-churn') {
    // Figure 8 of the Raft paper needs leaders that die with their entries half replicated.
    initialServers = 5;
    clients = 6;
    disruptNewLeaderRate = 0.5 + 0.4 * random.next();
    weights.leaderMinority = 4;
    weights.crashLeader = 4;
    weights.isolateLeader = 4;
    weights.membership = 0.5;
  } else if (kind === 'partitions') {
    weights.partition = 4;
    weights.oneWayCut = 3;
    weights.crash = 0.5;
  }
  return {
    kind,
    initialServers,
    keys: random.int(3, 5),
    clients,
    network,
    faultIntervalMs: kind === 'calm' ? 2000 : 150 + (1 - intensity) * 600,
    weights,
    crashAfterPromiseRate: kind === 'calm' ? 0 : crashAfterPromiseRate,
    changeOnNewLeaderRate: kind === 'calm' ? 0.05 : changeOnNewLeaderRate,
    disruptNewLeaderRate: kind === 'calm' ? 0 : disruptNewLeaderRate,
    slowFollowerOnChangeRate,
    immediateDisruptionShare: kind === 'leader-churn' ? 0.1 : 0.5,
    clientThinkMs: kind === 'leader-churn' ? 5 : 20,
    faultPhaseMs: 30_000,
    tuning: drawTuning(random, kind),
  };
}

export function pickWeighted<K extends string>(random: Random, weights: Record<K, number>): K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let x = random.next() * total;
  for (const [k, w] of entries) {
    x -= w;
    if (x < 0) return k;
  }
  return entries[entries.length - 1][0];
}
