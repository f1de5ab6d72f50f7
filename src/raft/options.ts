/**
 * RaftNode's options, their defaults (hashicorp/raft's, scaled to this library), and how the
 * millisecond timeouts a user thinks in become the tick counts the deterministic core counts in.
 */
import { systemClock, type Clock } from '../common/clock.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { systemRandom, type Random } from '../common/random.js';
import type { FSM } from './fsm.js';
import type { LogStore, SnapshotStore, StableStore } from './storage/types.js';
import type { Transport } from './transport/types.js';
import type { PlantedBugs, ServerId } from './types.js';
import { RaftError } from './types.js';

export interface RaftOptions {
  id: ServerId;
  fsm: FSM;
  logStore: LogStore;
  stableStore: StableStore;
  snapshotStore: SnapshotStore;
  transport: Transport;
  /** Default systemClock. */
  clock?: Clock;
  /** Default systemRandom. */
  random?: Random;
  /** Schedules Ready processing after the current event; default setImmediate. */
  defer?: (fn: () => void) => void;
  /** Default silent. */
  logger?: Logger;
  /** Default 50. */
  tickMs?: number;
  /** Default 1000: a follower with no word from a leader this long campaigns (randomized up to 2x). */
  heartbeatTimeoutMs?: number;
  /** Default 1000: a candidate's election timeout, and the leader's check-quorum window. */
  electionTimeoutMs?: number;
  /** Default 64 entries per AppendEntries. */
  maxAppendEntries?: number;
  /** Default 64 unacknowledged AppendEntries per follower. */
  maxInflight?: number;
  /** Default 8192 entries applied since the last snapshot before an automatic snapshot. */
  snapshotThreshold?: number;
  /** Default 10000: how often the snapshot threshold is checked. */
  snapshotIntervalMs?: number;
  /** Default 10240 entries kept in the log after a snapshot, so slow followers avoid a full snapshot. */
  trailingLogs?: number;
  /** Default true. */
  preVote?: boolean;
  /** Default true. */
  checkQuorum?: boolean;
  /** Test-only planted bugs. */
  bugs?: PlantedBugs;
}

export type ResolvedOptions = Required<Omit<RaftOptions, 'bugs'>> & { bugs: PlantedBugs };

/** Bounds the bytes of one AppendEntries so a batch of large commands stays a reasonable message. */
export const MAX_BYTES_PER_MESSAGE = 1024 * 1024;

/** How long the planted ackBeforeFsync bug leaves acknowledged entries only in memory. */
export const DEFERRED_FSYNC_MS = 5;

export function resolveOptions(opts: RaftOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    id: opts.id,
    fsm: opts.fsm,
    logStore: opts.logStore,
    stableStore: opts.stableStore,
    snapshotStore: opts.snapshotStore,
    transport: opts.transport,
    clock: opts.clock ?? systemClock,
    random: opts.random ?? systemRandom,
    defer: opts.defer ?? ((fn) => setImmediate(fn)),
    logger: opts.logger ?? silentLogger,
    tickMs: opts.tickMs ?? 50,
    heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 1000,
    electionTimeoutMs: opts.electionTimeoutMs ?? 1000,
    maxAppendEntries: opts.maxAppendEntries ?? 64,
    maxInflight: opts.maxInflight ?? 64,
    snapshotThreshold: opts.snapshotThreshold ?? 8192,
    snapshotIntervalMs: opts.snapshotIntervalMs ?? 10_000,
    trailingLogs: opts.trailingLogs ?? 10_240,
    preVote: opts.preVote ?? true,
    checkQuorum: opts.checkQuorum ?? true,
    bugs: opts.bugs ?? {},
  };
  if (resolved.id === '') throw new RaftError('InvalidArgument', 'server id must not be empty');
  for (const key of ['tickMs', 'heartbeatTimeoutMs', 'electionTimeoutMs', 'maxAppendEntries', 'maxInflight', 'snapshotIntervalMs'] as const) {
    if (!(resolved[key] > 0)) throw new RaftError('InvalidArgument', `${key} must be positive`);
  }
  return resolved;
}

/** Tick counts for the core: hashicorp's leader sends a heartbeat every heartbeatTimeout/10. */
export function tickCounts(o: ResolvedOptions): { electionTicks: number; heartbeatTicks: number } {
  const heartbeatTicks = Math.max(1, Math.round(o.heartbeatTimeoutMs / 10 / o.tickMs));
  // The core has a single election timeout: it is both a follower's leader-silence timeout and a
  // candidate's/leader's window, so the longer of the two keeps either from firing too early.
  const electionTicks = Math.max(
    heartbeatTicks + 1,
    Math.round(Math.max(o.heartbeatTimeoutMs, o.electionTimeoutMs) / o.tickMs),
  );
  return { electionTicks, heartbeatTicks };
}
