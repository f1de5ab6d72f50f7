import {
  EntryType,
  RaftError,
  decodeConfiguration,
  encodeConfiguration,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type ConfigurationChange,
  type Entry,
  type HardState,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
  type Message,
  type ReadState,
  type RequestVoteRequest,
  type RequestVoteResponse,
  type Role,
  type ServerAddress,
  type ServerId,
  type SnapshotMeta,
} from '../types.js';
import { ConfigurationHistory, applyConfigurationChange, type ConfigurationRecord } from './configuration.js';
import type { CoreConfig, CoreInitialState, CoreStatus, ProgressStatus, Ready, SoftState } from './core-types.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { hasQuorum, isVoter, quorumMatchIndex, voteOutcome, voterIds } from './quorum.js';
import { ReadOnlyQueue } from './read-only.js';

type Campaign = 'preVote' | 'election' | 'transfer';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A message as the core builds it: `from` is filled in when it is queued, `term` defaults to ours. */
type Outgoing = DistributiveOmit<Message, 'from' | 'term'> & { term?: number };

/**
 * A deterministic Raft state machine in the style of etcd's raft package. It has no clock, timers,
 * randomness of its own or I/O: the driver feeds it ticks, messages and proposals and collects a
 * Ready describing what to persist, send and apply, then calls advance() once that is done.
 */
export class RaftCore {
  private readonly cfg: CoreConfig;
  private readonly id: ServerId;

  private term: number;
  private vote: ServerId | '';
  private role: Role = 'follower';
  private leader: ServerId | '' = '';

  private readonly log: RaftLog;
  private commit: number;
  /** Confirmed applied by the driver (advance). */
  private applied: number;
  /** Committed entries up to here were already handed out in a Ready. */
  private handedOut: number;
  private snapshot: SnapshotMeta | undefined;
  private snapshotToRestore: SnapshotMeta | undefined;
  private readonly configs: ConfigurationHistory;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private readonly votes = new Map<ServerId, boolean>();
  private progress = new Map<ServerId, Progress>();
  private leadTransferee: ServerId | '' = '';
  private transferElapsed = 0;
  /** The index of the Noop this leader appended: entries of its own term are committed once commit reaches it. */
  private ownTermStart = 0;
  private readonly reads = new ReadOnlyQueue();
  /** ReadIndex requests waiting for the leader to commit an entry of its own term. */
  private readsAwaitingOwnTerm: number[] = [];
  /** Proposals were appended since the last Ready: replicate them in one batch. */
  private broadcastPending = false;

  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private lastSoftState: SoftState;
  private lastHardState: HardState;

  constructor(config: CoreConfig, initial: CoreInitialState) {
    this.cfg = config;
    this.id = config.id;
    const snap = initial.snapshot;
    const base = snap?.index ?? 0;
    const entries = initial.entries.filter((e) => e.index > base);
    entries.forEach((e, i) => {
      if (e.index !== base + 1 + i) {
        throw new RaftError('InvalidArgument', `log is not contiguous after ${base}: found index ${e.index}`);
      }
    });
    this.log = new RaftLog(base, snap?.term ?? 0, entries);
    this.snapshot = snap;
    this.commit = this.applied = this.handedOut = base;
    this.configs = new ConfigurationHistory(
      snap
        ? { index: snap.configurationIndex, configuration: snap.configuration }
        : { index: 0, configuration: { servers: [] } },
    );
    for (const e of entries) this.recordConfiguration(e);

    this.term = initial.hardState.term;
    this.vote = initial.hardState.vote;
    this.lastHardState = { term: this.term, vote: this.vote };
    this.lastSoftState = { role: 'follower', leader: '' };
    // The term must never lag the log (e.g. right after bootstrap wrote an entry of term 1).
    this.becomeFollower(Math.max(this.term, this.log.lastTerm()), '');
  }

  // ---------------------------------------------------------------- driver API

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  step(msg: Message): void {
    if (msg.to !== this.id || msg.from === this.id) return;
    if (msg.term > this.term) {
      if (msg.type === 'RequestVote' && !msg.leadershipTransfer && this.inLease()) {
        // We heard from a live leader recently: this candidate is likely partitioned or removed.
        return;
      }
      const keepsTerm =
        (msg.type === 'RequestVote' && msg.preVote) ||
        (msg.type === 'RequestVoteResponse' && msg.preVote && msg.granted);
      if (!keepsTerm) {
        const fromLeader = msg.type === 'AppendEntries' || msg.type === 'InstallSnapshot' || msg.type === 'TimeoutNow';
        this.becomeFollower(msg.term, fromLeader ? msg.from : '');
      }
    } else if (msg.term < this.term) {
      this.answerStale(msg);
      return;
    }

    switch (msg.type) {
      case 'RequestVote':
        this.handleVoteRequest(msg);
        break;
      case 'RequestVoteResponse':
        this.handleVoteResponse(msg);
        break;
      case 'AppendEntries':
        if (this.acceptLeader(msg.from)) this.handleAppendEntries(msg);
        break;
      case 'InstallSnapshot':
        if (this.acceptLeader(msg.from)) this.handleInstallSnapshot(msg);
        break;
      case 'TimeoutNow':
        if (this.role === 'follower' && this.promotable()) this.campaign('transfer');
        break;
      case 'AppendEntriesResponse':
        if (this.role === 'leader') this.handleAppendResponse(msg);
        break;
      case 'InstallSnapshotResponse':
        if (this.role === 'leader') this.handleSnapshotResponse(msg);
        break;
    }
  }

  propose(type: EntryType.Command | EntryType.Noop, data: Uint8Array): { index: number; term: number } {
    this.assertCanPropose();
    if (type !== EntryType.Command && type !== EntryType.Noop) {
      throw new RaftError('InvalidArgument', 'only Command and Noop entries may be proposed');
    }
    return this.appendAsLeader(type, data);
  }

  canChangeConfiguration(): boolean {
    if (this.role !== 'leader') return false;
    if (this.configs.latest().index > this.commit) return false;
    return this.cfg.bugs?.configChangeWithoutOwnTermGate === true || this.ownTermCommitted();
  }

  proposeConfigurationChange(change: ConfigurationChange, prevIndex: number): { index: number; term: number } {
    this.assertCanPropose();
    const latest = this.configs.latest();
    if (prevIndex !== 0 && prevIndex !== latest.index) {
      throw new RaftError('ConfigurationMismatch', `configuration index is ${latest.index}, not ${prevIndex}`);
    }
    if (!this.canChangeConfiguration()) {
      throw new RaftError('ConfigurationChangeInProgress', 'a configuration change is pending');
    }
    const next = applyConfigurationChange(latest.configuration, change);
    return this.appendAsLeader(EntryType.Configuration, encodeConfiguration(next));
  }

  readIndex(ctx: number): void {
    if (this.role !== 'leader') throw this.notLeader();
    if (!this.ownTermCommitted()) {
      // Until an entry of its term commits, the leader's commit index may lag what earlier leaders committed.
      this.readsAwaitingOwnTerm.push(ctx);
      return;
    }
    this.startRead(ctx);
  }

  /**
   * The transport lost an established connection to `id`. If that is this follower's leader, it most
   * likely died: forget it, so the leader lease no longer refuses votes, and campaign after a short
   * random delay instead of a whole election timeout. Safety is untouched (pre-vote and the vote rules
   * still decide); only detection gets faster. A live leader's next append restores everything.
   */
  reportUnreachable(id: ServerId): void {
    if (this.role !== 'follower' || id !== this.leader) return;
    this.leader = '';
    const soon = this.cfg.random.int(1, 2 * this.cfg.heartbeatTicks);
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTimeout - soon);
  }

  transferLeadership(target?: ServerId): ServerId {
    if (this.role !== 'leader') throw this.notLeader();
    if (this.leadTransferee !== '') {
      if (target === undefined || target === this.leadTransferee) return this.leadTransferee;
      throw new RaftError('LeadershipTransferInProgress', `already transferring to ${this.leadTransferee}`);
    }
    const chosen = target ?? this.mostUpToDateVoter();
    if (chosen === undefined) throw new RaftError('InvalidArgument', 'no other voter to transfer leadership to');
    if (chosen === this.id) throw new RaftError('InvalidArgument', 'cannot transfer leadership to itself');
    const configuration = this.configs.latest().configuration;
    if (!configuration.servers.some((s) => s.id === chosen)) {
      throw new RaftError('UnknownServer', `server ${chosen} is not in the configuration`);
    }
    if (!isVoter(configuration, chosen)) throw new RaftError('InvalidArgument', `server ${chosen} is not a voter`);
    this.leadTransferee = chosen;
    this.transferElapsed = 0;
    const pr = this.progress.get(chosen) as Progress;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'TimeoutNow', to: chosen });
    else this.sendAppend(chosen);
    return chosen;
  }

  snapshotTaken(meta: SnapshotMeta, compactUpTo: number): void {
    if (!this.snapshot || meta.index > this.snapshot.index) this.snapshot = meta;
    const upTo = Math.min(compactUpTo, this.snapshot.index, this.applied, this.log.stableIndex(), this.log.lastIndex());
    this.log.compact(upTo);
    if (this.role !== 'leader') return;
    for (const [id, pr] of this.progress) {
      if (pr.state !== 'snapshot' && this.log.term(pr.next - 1) === undefined) this.sendSnapshot(id, pr);
    }
  }

  entry(index: number): Entry | undefined {
    return this.log.entry(index);
  }

  /** The configuration in force at index (for snapshots taken at or after the applied index). */
  configurationAt(index: number): ConfigurationRecord {
    return this.configs.at(index);
  }

  hasReady(): boolean {
    return (
      this.broadcastPending ||
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstable() ||
      this.commit > this.handedOut ||
      this.snapshotToRestore !== undefined ||
      this.softStateChanged() ||
      this.hardStateChanged()
    );
  }

  ready(): Ready {
    this.flushBroadcast();
    const rd: Ready = {
      entries: this.log.takeUnstable(),
      committedEntries: this.log.slice(this.handedOut + 1, Infinity, Infinity, this.commit),
      messages: this.messages,
      readStates: this.readStates,
    };
    this.handedOut = this.commit;
    this.messages = [];
    this.readStates = [];
    if (this.snapshotToRestore) {
      rd.snapshot = this.snapshotToRestore;
      this.snapshotToRestore = undefined;
    }
    if (this.softStateChanged()) {
      this.lastSoftState = { role: this.role, leader: this.leader };
      rd.softState = { ...this.lastSoftState };
    }
    if (this.hardStateChanged()) {
      this.lastHardState = { term: this.term, vote: this.vote };
      rd.hardState = { ...this.lastHardState };
    }
    return rd;
  }

  advance(rd: Ready): void {
    if (rd.snapshot) this.applied = Math.max(this.applied, rd.snapshot.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) {
      this.log.stableTo(lastEntry.index, lastEntry.term);
      // The leader's own log counts towards commit only once durable.
      if (this.role === 'leader') this.maybeCommit();
    }
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied) this.applied = Math.max(this.applied, lastApplied.index);
    this.configs.prune(this.applied);
  }

  status(): CoreStatus {
    const latest = this.configs.latest();
    const committed = this.configs.at(this.commit);
    const progress: Record<ServerId, ProgressStatus> = {};
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.count };
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commitIndex: this.commit,
      appliedIndex: this.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.snapshot?.index ?? 0,
      snapshotTerm: this.snapshot?.term ?? 0,
      configuration: latest.configuration,
      configurationIndex: latest.index,
      committedConfiguration: committed.configuration,
      committedConfigurationIndex: committed.index,
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = '';
    }
    this.leader = '';
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.random.int(this.cfg.electionTicks, 2 * this.cfg.electionTicks - 1);
    this.votes.clear();
    this.progress = new Map();
    this.leadTransferee = '';
    this.transferElapsed = 0;
    this.ownTermStart = 0;
    this.reads.reset();
    this.readsAwaitingOwnTerm = [];
    this.broadcastPending = false;
  }

  private becomeFollower(term: number, leader: ServerId | ''): void {
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    // Pre-vote leaves term and vote alone: only a real election may disturb the cluster.
    this.role = 'precandidate';
    this.leader = '';
    this.votes.clear();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.role = 'candidate';
    this.vote = this.id;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    this.syncProgress();
    // Committing an entry of its own term is how a new leader learns what is committed.
    this.ownTermStart = this.appendAsLeader(EntryType.Noop, new Uint8Array()).index;
  }

  /**
   * Whether this server may campaign: it must be a voter in its latest configuration, with one exception
   * from the thesis (§4.2.2): while that configuration is uncommitted, a server it demoted or removed
   * may still be needed to commit it. Typically a leader that removed itself and lost leadership before
   * the entry spread: its log is the most up to date, so nobody else can win. It then campaigns among
   * the latest configuration's voters, without counting its own vote, and steps down once it commits.
   */
  private promotable(): boolean {
    const latest = this.configs.latest();
    if (isVoter(latest.configuration, this.id)) return true;
    const previous = this.configs.previous();
    return latest.index > this.commit && previous !== undefined && isVoter(previous.configuration, this.id);
  }

  private voters(): ServerId[] {
    return voterIds(this.configs.latest().configuration);
  }

  private inLease(): boolean {
    return this.cfg.checkQuorum && this.leader !== '' && this.electionElapsed < this.cfg.electionTicks;
  }

  /** A same-term AppendEntries or InstallSnapshot: its sender is the leader of this term. */
  private acceptLeader(from: ServerId): boolean {
    if (this.role === 'leader') return false; // cannot happen: one leader per term
    if (this.role !== 'follower') this.becomeFollower(this.term, from);
    this.leader = from;
    this.electionElapsed = 0;
    return true;
  }

  // ---------------------------------------------------------------- ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.cfg.preVote ? 'preVote' : 'election');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const [id, pr] of this.progress) {
      if (pr.state === 'snapshot' && ++pr.snapshotTicks >= this.cfg.electionTicks) {
        // The snapshot or its answer was probably lost: find out where the follower stands.
        pr.becomeProbe();
        this.sendAppend(id);
      }
    }
    if (this.leadTransferee !== '' && ++this.transferElapsed >= this.cfg.electionTicks) {
      this.leadTransferee = '';
    }
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, '');
        return;
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.reads.lastCtx());
    }
  }

  private quorumActive(): boolean {
    const active = hasQuorum(this.voters(), (id) => id === this.id || this.progress.get(id)?.recentActive === true);
    for (const pr of this.progress.values()) pr.recentActive = false;
    return active;
  }

  // ---------------------------------------------------------------- elections

  private campaign(kind: Campaign): void {
    let voteTerm: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (this.tallyVotes(kind === 'preVote')) return;
    for (const to of this.voters()) {
      if (to === this.id) continue;
      this.send({
        type: 'RequestVote',
        to,
        term: voteTerm,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        preVote: kind === 'preVote',
        leadershipTransfer: kind === 'transfer',
      });
    }
  }

  /** Acts on the votes so far; returns true when the campaign stage ended. */
  private tallyVotes(preVote: boolean): boolean {
    const outcome = voteOutcome(this.voters(), this.votes);
    if (outcome === 'won') {
      if (preVote) this.campaign('election');
      else this.becomeLeader();
    } else if (outcome === 'lost') {
      this.becomeFollower(this.term, '');
    }
    return outcome !== 'pending';
  }

  private handleVoteRequest(m: RequestVoteRequest): void {
    // Only a server that could itself campaign votes (as hashicorp/raft refuses votes from non-voters).
    // A server with no configuration yet, such as one re-added after losing its disk, must not lend a
    // stale candidate the vote its earlier incarnation may already have given in this term.
    const canVote =
      this.promotable() &&
      (this.vote === m.from || (this.vote === '' && this.leader === '') || (m.preVote && m.term > this.term));
    const granted = canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    if (granted && !m.preVote) {
      this.vote = m.from;
      this.electionElapsed = 0;
    }
    // A grant carries the term asked about (a pre-vote's future term); a refusal carries ours.
    this.send({ type: 'RequestVoteResponse', to: m.from, term: granted ? m.term : this.term, granted, preVote: m.preVote });
  }

  private handleVoteResponse(m: RequestVoteResponse): void {
    const expected = m.preVote ? 'precandidate' : 'candidate';
    if (this.role !== expected) return;
    if (m.preVote && m.granted && m.term !== this.term + 1) return;
    this.votes.set(m.from, m.granted);
    this.tallyVotes(m.preVote);
  }

  // ---------------------------------------------------------------- follower side of replication

  private handleAppendEntries(m: AppendEntriesRequest): void {
    let prevIndex = m.prevLogIndex;
    let prevTerm = m.prevLogTerm;
    let entries = m.entries;
    const compacted = this.log.firstIndex() - 1;
    if (prevIndex < compacted) {
      // Entries we compacted are committed, hence in every later leader's log: check only what follows.
      const beyond = entries.findIndex((e) => e.index > compacted);
      if (beyond <= 0) {
        this.respondAppend(m, { success: true, matchIndex: m.prevLogIndex + m.entries.length });
        return;
      }
      prevIndex = entries[beyond - 1].index;
      prevTerm = entries[beyond - 1].term;
      entries = entries.slice(beyond);
    }
    if (!this.log.matchTerm(prevIndex, prevTerm)) {
      const hint = this.log.findConflictByTerm(Math.min(prevIndex, this.log.lastIndex()), prevTerm);
      this.respondAppend(m, { success: false, matchIndex: 0, hintIndex: hint.index, hintTerm: hint.term });
      return;
    }
    const lastNew = prevIndex + entries.length;
    const conflict = this.log.findConflict(entries);
    // A conflict at or below commit means safety was already lost (only planted bugs do that). The leader's
    // log wins so the run goes on and the simulator's checkers see the divergence rather than a crash.
    if (conflict !== 0) this.appendToLog(entries.slice(conflict - entries[0].index));
    this.commit = Math.max(this.commit, Math.min(m.leaderCommit, lastNew));
    this.respondAppend(m, { success: true, matchIndex: lastNew });
  }

  private respondAppend(
    m: AppendEntriesRequest,
    r: { success: boolean; matchIndex: number; hintIndex?: number; hintTerm?: number },
  ): void {
    this.send({
      type: 'AppendEntriesResponse',
      to: m.from,
      success: r.success,
      matchIndex: r.matchIndex,
      rejectedIndex: r.success ? 0 : m.prevLogIndex,
      hintIndex: r.hintIndex ?? 0,
      hintTerm: r.hintTerm ?? 0,
      readCtx: m.readCtx,
    });
  }

  private handleInstallSnapshot(m: InstallSnapshotRequest): void {
    const meta = m.meta;
    let matchIndex = meta.index;
    if (meta.index <= this.commit) {
      matchIndex = this.commit;
    } else if (this.log.matchTerm(meta.index, meta.term)) {
      // We already hold the snapshot's last entry, so the log up to there matches: keep it.
      this.commit = meta.index;
    } else {
      this.log.restore(meta.index, meta.term);
      this.snapshot = meta;
      this.snapshotToRestore = meta;
      this.commit = this.handedOut = meta.index;
      this.configs.reset({ index: meta.configurationIndex, configuration: meta.configuration });
    }
    this.send({ type: 'InstallSnapshotResponse', to: m.from, success: true, matchIndex });
  }

  /** Answers a message from an older term so its sender learns the current term. */
  private answerStale(m: Message): void {
    switch (m.type) {
      case 'AppendEntries':
        this.send({
          type: 'AppendEntriesResponse',
          to: m.from,
          success: false,
          matchIndex: 0,
          rejectedIndex: m.prevLogIndex,
          hintIndex: 0,
          hintTerm: 0,
          readCtx: m.readCtx,
        });
        break;
      case 'InstallSnapshot':
        this.send({ type: 'InstallSnapshotResponse', to: m.from, success: false, matchIndex: 0 });
        break;
      case 'RequestVote':
        this.send({ type: 'RequestVoteResponse', to: m.from, granted: false, preVote: m.preVote });
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- leader side of replication

  private handleAppendResponse(m: AppendEntriesResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.readCtx > 0) this.ackRead(m.from, m.readCtx);

    if (!m.success) {
      const probeHint =
        m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecrTo(m.rejectedIndex, probeHint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }

    if (pr.maybeUpdate(m.matchIndex) || (pr.match === m.matchIndex && pr.state === 'probe')) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex())) {
        pr.becomeReplicate();
      } else if (pr.state === 'replicate') pr.inflights.freeTo(m.matchIndex);
      this.maybeCommit();
      if (this.role !== 'leader') return;
      while (this.sendAppend(m.from, false)) {
        /* keep filling the window */
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
        this.send({ type: 'TimeoutNow', to: m.from });
      }
      return;
    }
    // A duplicate or a heartbeat answer: nothing new, but the follower is alive. If its window is full,
    // acknowledgements were probably lost; let one more message out so replication keeps moving.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.state === 'probe') pr.probeSent = false;
    // Entries not sent yet go out now. If everything was sent but is unacknowledged, an empty append
    // at the end of the log makes the follower reveal a gap (it rejects, and we back off), but at most once
    // per heartbeat interval: answering every reply that way is an endless ping-pong of empty appends.
    if (pr.match < this.log.lastIndex() && !this.sendAppend(m.from, false) && pr.emptyProbeAllowed) {
      pr.emptyProbeAllowed = false;
      this.sendAppend(m.from);
    }
  }

  private handleSnapshotResponse(m: InstallSnapshotResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.success) pr.maybeUpdate(m.matchIndex);
    if (pr.state === 'snapshot') pr.becomeProbe();
    if (m.success) this.maybeCommit();
    if (this.role === 'leader') this.sendAppend(m.from);
  }

  /** Sends the entries a follower needs next; returns false when nothing was sent. */
  private sendAppend(to: ServerId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.cfg.maxEntriesPerMessage, this.cfg.maxBytesPerMessage);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: 'AppendEntries',
      to,
      prevLogIndex: prevIndex,
      prevLogTerm: prevTerm,
      entries,
      leaderCommit: this.commit,
      readCtx: 0,
    });
    pr.sent(entries.length > 0 ? entries[entries.length - 1].index : undefined);
    return true;
  }

  private sendSnapshot(to: ServerId, pr: Progress): boolean {
    if (!this.snapshot) return false;
    this.send({ type: 'InstallSnapshot', to, meta: this.snapshot });
    pr.becomeSnapshot(this.snapshot.index);
    return true;
  }

  private broadcastHeartbeat(readCtx: number): void {
    for (const [to, pr] of this.progress) {
      pr.emptyProbeAllowed = true;
      // Anchored at the follower's match so it can safely advance its commit to min(commit, match).
      const term = this.log.term(pr.match);
      this.send({
        type: 'AppendEntries',
        to,
        prevLogIndex: term === undefined ? 0 : pr.match,
        prevLogTerm: term ?? 0,
        entries: [],
        leaderCommit: this.commit,
        readCtx,
      });
    }
  }

  private flushBroadcast(): void {
    if (!this.broadcastPending) return;
    this.broadcastPending = false;
    if (this.role !== 'leader') return;
    for (const to of this.progress.keys()) {
      // The first message goes even when empty (it carries the commit index); then fill the window.
      if (!this.sendAppend(to)) continue;
      while (this.sendAppend(to, false)) {
        /* keep filling the window */
      }
    }
  }

  private maybeCommit(): void {
    const candidate = quorumMatchIndex(this.voters(), (id) =>
      id === this.id ? this.log.stableIndex() : (this.progress.get(id)?.match ?? 0),
    );
    if (candidate <= this.commit) return;
    // Raft's figure 8: counting replicas only proves entries of the leader's own term committed.
    if (this.log.term(candidate) !== this.term && !this.cfg.bugs?.commitWithoutOwnTerm) return;
    this.commit = candidate;
    this.broadcastPending = true;
    if (this.ownTermCommitted() && this.readsAwaitingOwnTerm.length > 0) {
      const waiting = this.readsAwaitingOwnTerm;
      this.readsAwaitingOwnTerm = [];
      for (const ctx of waiting) this.startRead(ctx);
    }
    const latest = this.configs.latest();
    if (latest.index <= this.commit && !isVoter(latest.configuration, this.id)) {
      // Our removal (or demotion) is committed: tell the followers, then leave them to elect a leader.
      this.flushBroadcast();
      this.becomeFollower(this.term, '');
    }
  }

  private ownTermCommitted(): boolean {
    return this.role === 'leader' && this.commit >= this.ownTermStart;
  }

  // ---------------------------------------------------------------- proposals and membership

  private assertCanPropose(): void {
    if (this.role !== 'leader') throw this.notLeader();
    if (this.leadTransferee !== '') {
      throw new RaftError('LeadershipTransferInProgress', `leadership is moving to ${this.leadTransferee}`);
    }
  }

  private appendAsLeader(type: EntryType, data: Uint8Array): { index: number; term: number } {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.appendToLog([entry]);
    this.broadcastPending = true;
    return { index: entry.index, term: entry.term };
  }

  /** Appends to the log (replacing the suffix from entries[0]) and keeps the configuration in step. */
  private appendToLog(entries: Entry[]): void {
    if (entries.length === 0) return;
    const before = this.configs.latest();
    this.log.append(entries);
    this.configs.truncateFrom(entries[0].index);
    for (const e of entries) this.recordConfiguration(e);
    if (this.configs.latest() !== before && this.role === 'leader') this.syncProgress();
  }

  private recordConfiguration(e: Entry): void {
    if (e.type === EntryType.Configuration) {
      this.configs.add({ index: e.index, configuration: decodeConfiguration(e.data) });
    }
  }

  /** Tracks replication to exactly the servers of the latest configuration. */
  private syncProgress(): void {
    const servers = new Set(this.configs.latest().configuration.servers.map((s) => s.id));
    servers.delete(this.id);
    for (const id of this.progress.keys()) if (!servers.has(id)) this.progress.delete(id);
    for (const id of servers) {
      if (!this.progress.has(id)) this.progress.set(id, new Progress(this.log.lastIndex() + 1, this.cfg.maxInflightMessages));
    }
    if (this.leadTransferee !== '' && !servers.has(this.leadTransferee)) this.leadTransferee = '';
  }

  private mostUpToDateVoter(): ServerId | undefined {
    let best: ServerId | undefined;
    let bestMatch = -1;
    for (const id of this.voters()) {
      const pr = this.progress.get(id);
      if (id === this.id || !pr) continue;
      if (pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    return best;
  }

  // ---------------------------------------------------------------- reads

  private startRead(ctx: number): void {
    const voters = this.voters();
    this.reads.add(ctx, this.commit, voters.includes(this.id) ? this.id : undefined);
    this.releaseConfirmedReads();
    if (this.reads.lastCtx() !== 0) this.broadcastHeartbeat(ctx);
  }

  private ackRead(from: ServerId, ctx: number): void {
    this.reads.recordAck(from, ctx);
    this.releaseConfirmedReads();
  }

  private releaseConfirmedReads(): void {
    const voters = this.voters();
    this.readStates.push(...this.reads.takeConfirmed((acks) => hasQuorum(voters, (id) => acks.has(id))));
  }

  // ---------------------------------------------------------------- plumbing

  private send(m: Outgoing): void {
    this.messages.push({ term: this.term, ...m, from: this.id } as Message);
  }

  private notLeader(): RaftError {
    const hint = this.leaderHint();
    return new RaftError('NotLeader', hint ? `not the leader; ${hint.id} is` : 'not the leader', hint);
  }

  private leaderHint(): { id: ServerId; address: ServerAddress } | undefined {
    if (this.leader === '' || this.leader === this.id) return undefined;
    const server = this.configs.latest().configuration.servers.find((s) => s.id === this.leader);
    return { id: this.leader, address: server?.address ?? '' };
  }

  private softStateChanged(): boolean {
    return this.lastSoftState.role !== this.role || this.lastSoftState.leader !== this.leader;
  }

  private hardStateChanged(): boolean {
    return this.lastHardState.term !== this.term || this.lastHardState.vote !== this.vote;
  }
}
