import type { Random } from '../../common/random.js';
import type {
  Configuration,
  Entry,
  HardState,
  Message,
  PlantedBugs,
  ReadState,
  Role,
  ServerId,
  SnapshotMeta,
} from '../types.js';
import type { ProgressState } from './progress.js';

export interface CoreConfig {
  id: ServerId;
  /** Follower timeout, randomized per term in [electionTicks, 2*electionTicks) via `random`. */
  electionTicks: number;
  /** Leader heartbeat interval. */
  heartbeatTicks: number;
  /** Batching bounds of one AppendEntries: entry count and summed entry data bytes. */
  maxEntriesPerMessage: number;
  maxBytesPerMessage: number;
  /** Pipelining bound per follower in replicate state. */
  maxInflightMessages: number;
  preVote: boolean;
  checkQuorum: boolean;
  random: Random;
  /** Honoured: commitWithoutOwnTerm and configChangeWithoutOwnTermGate. */
  bugs?: PlantedBugs;
}

export interface CoreInitialState {
  /** {term: 0, vote: ''} for a new server. */
  hardState: HardState;
  /** The latest snapshot; commit and applied start at its index. */
  snapshot?: SnapshotMeta;
  /** The persisted log; entries at or below snapshot.index are ignored. */
  entries: Entry[];
}

export interface SoftState {
  role: Role;
  leader: ServerId | '';
}

export interface Ready {
  /** Present when the role or the known leader changed. */
  softState?: SoftState;
  /** Present when term or vote changed: persist durably BEFORE sending messages. */
  hardState?: HardState;
  /** Append to the log store; entries[0].index <= last stored index means "replace the suffix from there". */
  entries: Entry[];
  /** An InstallSnapshot was accepted and the log discarded: reset the log store to begin after meta.index
   *  and restore the FSM from the stored snapshot. */
  snapshot?: SnapshotMeta;
  /** Newly committed entries to apply in order (all types; the driver filters). */
  committedEntries: Entry[];
  /** To send once hardState and entries are durable. */
  messages: Message[];
  /** Confirmed read points. */
  readStates: ReadState[];
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  inflight: number;
}

export interface CoreStatus {
  id: ServerId;
  role: Role;
  term: number;
  vote: ServerId | '';
  leader: ServerId | '';
  commitIndex: number;
  appliedIndex: number;
  /** Of the in-memory log. */
  firstIndex: number;
  lastIndex: number;
  lastTerm: number;
  snapshotIndex: number;
  snapshotTerm: number;
  /** The latest configuration (possibly uncommitted). */
  configuration: Configuration;
  configurationIndex: number;
  committedConfiguration: Configuration;
  committedConfigurationIndex: number;
  leadTransferee: ServerId | '';
  /** Leader only, else {}. */
  progress: Record<ServerId, ProgressStatus>;
}
