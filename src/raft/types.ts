/**
 * The vocabulary shared by every part of src/raft: log entries, cluster configurations, persistent
 * state, snapshot metadata and the messages servers exchange. The deterministic core (core/), the
 * driver (node.ts), storage (storage/), transports (transport/) and the simulator (sim/) all speak it.
 */

/** A server's stable identity, e.g. a node id. */
export type ServerId = string;
/** Where a transport reaches a server, e.g. "127.0.0.1:4401". */
export type ServerAddress = string;

export type Suffrage = 'voter' | 'nonvoter';

export interface Server {
  id: ServerId;
  address: ServerAddress;
  suffrage: Suffrage;
}

/** The set of servers in the cluster. A server uses the newest configuration in its log, committed or not. */
export interface Configuration {
  servers: Server[];
}

export enum EntryType {
  /** A user command, applied to the FSM. */
  Command = 0,
  /** Appended by a new leader to commit an entry of its own term; also used by barrier(). Not given to the FSM. */
  Noop = 1,
  /** A new configuration (encodeConfiguration); takes effect when appended, not when committed. */
  Configuration = 2,
}

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on disk before a server answers any message: its term and the vote it cast in it. */
export interface HardState {
  term: number;
  /** The candidate voted for in `term`, or '' for none. */
  vote: ServerId;
}

export interface SnapshotMeta {
  /** Index and term of the last entry the snapshot covers. */
  index: number;
  term: number;
  /** The newest configuration at or below `index`, and the index of the entry that carried it. */
  configuration: Configuration;
  configurationIndex: number;
}

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** A confirmed linearizable read point: once applied >= index, reads of the FSM reflect every write before ctx was requested. */
export interface ReadState {
  ctx: number;
  index: number;
}

interface MessageBase {
  from: ServerId;
  to: ServerId;
  /** The sender's term (for a pre-vote request, the term it would campaign in). */
  term: number;
}

export interface AppendEntriesRequest extends MessageBase {
  type: 'AppendEntries';
  prevLogIndex: number;
  prevLogTerm: number;
  entries: Entry[];
  leaderCommit: number;
  /** Non-zero on heartbeats that confirm leadership for pending ReadIndex requests; echoed in the response. */
  readCtx: number;
}

export interface AppendEntriesResponse extends MessageBase {
  type: 'AppendEntriesResponse';
  success: boolean;
  /** On success, the index of the last entry now known to match the leader's log. */
  matchIndex: number;
  /** On failure: the prevLogIndex that was rejected, and a hint for fast back-off (the follower's last
   *  index, or the first index of the conflicting term) with the term found there (0 if none). */
  rejectedIndex: number;
  hintIndex: number;
  hintTerm: number;
  readCtx: number;
}

export interface RequestVoteRequest extends MessageBase {
  type: 'RequestVote';
  lastLogIndex: number;
  lastLogTerm: number;
  preVote: boolean;
  /** Set when the election was triggered by TimeoutNow: voters may disregard their leader lease. */
  leadershipTransfer: boolean;
}

export interface RequestVoteResponse extends MessageBase {
  type: 'RequestVoteResponse';
  granted: boolean;
  preVote: boolean;
}

export interface InstallSnapshotRequest extends MessageBase {
  type: 'InstallSnapshot';
  meta: SnapshotMeta;
  /** The snapshot bytes. The core emits this message without data; the driver attaches the bytes
   *  from its SnapshotStore before handing it to the transport, which streams them in chunks. */
  data?: Uint8Array;
}

export interface InstallSnapshotResponse extends MessageBase {
  type: 'InstallSnapshotResponse';
  success: boolean;
  /** The snapshot index now held by the follower (on success). */
  matchIndex: number;
}

/** Sent by a leader transferring leadership: the receiver campaigns at once. */
export interface TimeoutNowRequest extends MessageBase {
  type: 'TimeoutNow';
}

export type Message =
  | AppendEntriesRequest
  | AppendEntriesResponse
  | RequestVoteRequest
  | RequestVoteResponse
  | InstallSnapshotRequest
  | InstallSnapshotResponse
  | TimeoutNowRequest;

export type MessageType = Message['type'];

/** A single-server membership change, as hashicorp/raft offers them. */
export type ConfigurationChange =
  | { kind: 'addVoter'; id: ServerId; address: ServerAddress }
  | { kind: 'addNonvoter'; id: ServerId; address: ServerAddress }
  | { kind: 'demoteVoter'; id: ServerId }
  | { kind: 'removeServer'; id: ServerId };

export function encodeConfiguration(c: Configuration): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(c));
}

export function decodeConfiguration(data: Uint8Array): Configuration {
  return JSON.parse(new TextDecoder().decode(data)) as Configuration;
}

/**
 * Test-only switches that plant known consensus bugs, so the simulator can prove it catches them.
 * Nothing outside tests and `npm run sim -- --bug` ever sets these.
 */
export interface PlantedBugs {
  /** Core: a leader commits entries of earlier terms by counting replicas (Raft paper figure 8). */
  commitWithoutOwnTerm?: boolean;
  /** Core: membership changes proposed before the leader committed an entry of its own term. */
  configChangeWithoutOwnTermGate?: boolean;
  /** Stable store: term and vote are written but not fsynced before the vote is answered. */
  voteNotFsynced?: boolean;
  /** Driver: messages (acknowledgements) are sent before the log is fsynced; the fsync is deferred. */
  ackBeforeFsync?: boolean;
  /** Storage: directories are not fsynced after a file is created or renamed in them. */
  noDirectoryFsync?: boolean;
}

export type RaftErrorCode =
  | 'NotLeader'
  | 'LeadershipLost'
  | 'LeadershipTransferInProgress'
  | 'ConfigurationChangeInProgress'
  | 'ConfigurationMismatch'
  | 'UnknownServer'
  | 'Timeout'
  | 'Shutdown'
  | 'NothingNewToSnapshot'
  | 'InvalidArgument';

export class RaftError extends Error {
  constructor(
    readonly code: RaftErrorCode,
    message: string,
    /** For NotLeader: the leader this server knows of, if any, so callers can forward. */
    readonly leader?: { id: ServerId; address: ServerAddress },
  ) {
    super(message);
    this.name = 'RaftError';
  }
}
