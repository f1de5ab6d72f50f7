/**
 * RaftNode.stats(): hashicorp/raft's Stats() as typed fields, plus the driver's own counters that
 * show how well group commit and batching work (entries per fsync, Ready passes, messages).
 */
import type { Configuration, Role, ServerId } from './types.js';

export interface RaftStats {
  state: Role | 'shutdown';
  term: number;
  vote: ServerId;
  leader: ServerId;
  commitIndex: number;
  appliedIndex: number;
  firstLogIndex: number;
  lastLogIndex: number;
  lastLogTerm: number;
  lastSnapshotIndex: number;
  lastSnapshotTerm: number;
  /** Servers in the latest configuration other than this one. */
  numPeers: number;
  latestConfiguration: Configuration;
  latestConfigurationIndex: number;
  fsyncs: number;
  entriesPersisted: number;
  /** entriesPersisted / fsyncs: how many entries each group commit carried on average. */
  entriesPerFsync: number;
  readyPasses: number;
  messagesSent: number;
  entriesApplied: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
}

/** The counters the driver bumps as it works; the rest of RaftStats is read from the core. */
export class DriverCounters {
  fsyncs = 0;
  entriesPersisted = 0;
  readyPasses = 0;
  messagesSent = 0;
  entriesApplied = 0;
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
}
