/**
 * RaftNode: the driver that gives the deterministic core (core/) hashicorp/raft's shape. It owns
 * time (ticks from the injected clock), I/O (stores, transport, FSM) and the callers' futures; the
 * core owns every consensus decision. Each event (tick, inbound message, call) steps the core and
 * schedules one Ready pass through `defer`, so everything that happened meanwhile is persisted with
 * a single fsync (group commit) before any message that depends on it leaves.
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { RaftCore, type CoreStatus, type Ready } from './core/index.js';
import type { FSM } from './fsm.js';
import { Future } from './futures.js';
import { Observers, type ObservationListener } from './observations.js';
import { DEFERRED_FSYNC_MS, MAX_BYTES_PER_MESSAGE, resolveOptions, tickCounts, type RaftOptions, type ResolvedOptions } from './options.js';
import { hardStateRecord, loadHardState, loadLogAfter, validateBootstrapConfiguration } from './recovery.js';
import { DriverCounters, type RaftStats } from './stats.js';
import type { LogStore, SnapshotStore, StableStore } from './storage/types.js';
import type { Transport } from './transport/types.js';
import {
  decodeConfiguration,
  encodeConfiguration,
  EntryType,
  RaftError,
  type Configuration,
  type ConfigurationChange,
  type Entry,
  type HardState,
  type InstallSnapshotRequest,
  type Message,
  type ReadState,
  type Role,
  type ServerAddress,
  type ServerId,
  type SnapshotMeta,
} from './types.js';

export type { RaftOptions } from './options.js';

/** A caller waiting for the entry it proposed at `index` in `term` to be applied. */
interface IndexWaiter {
  term: number;
  applied(index: number, response: unknown): void;
  fail(err: RaftError): void;
}

interface PendingRead {
  ctx: number;
  future: Future<number>;
  /** readIndex waits for the local FSM to reach the read index; verifyLeader does not. */
  waitForApply: boolean;
}

interface QueuedChange {
  change: ConfigurationChange;
  prevIndex: number;
  future: Future<{ index: number }>;
}

const EMPTY_CONFIGURATION: Configuration = { servers: [] };

export class RaftNode {
  private readonly opts: ResolvedOptions;
  private readonly id: ServerId;
  private readonly fsm: FSM;
  private readonly logStore: LogStore;
  private readonly stableStore: StableStore;
  private readonly snapshotStore: SnapshotStore;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly observers: Observers;
  private readonly counters = new DriverCounters();

  private core: RaftCore;
  private hardState: HardState;
  private role: Role = 'follower';
  private leaderId: ServerId = '';
  private appliedIndex = 0;
  /** The configuration in force at appliedIndex: what a snapshot taken now must record. */
  private appliedConfiguration: { configuration: Configuration; index: number } = { configuration: EMPTY_CONFIGURATION, index: 0 };
  private lastSnapshot: SnapshotMeta | undefined;
  /** Where every server ever seen in a configuration (or told of by rememberPeer) is reached. */
  private readonly addresses = new Map<ServerId, ServerAddress>();
  private snapshotCache: { index: number; term: number; data: Uint8Array } | undefined;

  private readonly indexWaiters = new Map<number, IndexWaiter>();
  private pendingReads: PendingRead[] = [];
  private readsAwaitingApply: { index: number; future: Future<number> }[] = [];
  private membershipQueue: QueuedChange[] = [];
  private transfers: Future<void>[] = [];
  private nextReadCtx = 1;

  private started = false;
  private stopped = false;
  private fatal: Error | undefined;
  private readyScheduled = false;
  /** A leader's Ready whose messages went out and whose persistence is deferred (see runReadyLoop). */
  private persistPending = false;
  private tickTimer: TimerHandle | undefined;
  private snapshotTimer: TimerHandle | undefined;
  /** Planted ackBeforeFsync bug only: entries already acknowledged but not yet written. */
  private unsyncedEntries: Entry[][] = [];
  private unsyncedFlushTimer: TimerHandle | undefined;

  constructor(options: RaftOptions) {
    this.opts = resolveOptions(options);
    this.id = this.opts.id;
    this.fsm = this.opts.fsm;
    this.logStore = this.opts.logStore;
    this.stableStore = this.opts.stableStore;
    this.snapshotStore = this.opts.snapshotStore;
    this.transport = this.opts.transport;
    this.clock = this.opts.clock;
    this.logger = this.opts.logger.child({ raft: this.id });
    this.observers = new Observers(this.logger);

    this.hardState = loadHardState(this.stableStore);
    this.lastSnapshot = this.snapshotStore.list()[0];
    if (this.lastSnapshot) this.restoreFsm(this.lastSnapshot);
    const entries = loadLogAfter(this.logStore, this.lastSnapshot?.index ?? 0);
    this.learnAddressesFromEntries(entries);
    this.core = this.createCore(entries);
    this.logger.info(
      { term: this.hardState.term, snapshotIndex: this.lastSnapshot?.index ?? 0, lastIndex: entries.at(-1)?.index ?? 0 },
      'raft state loaded',
    );
  }

  /** Starts ticking and accepting messages. */
  start(): void {
    this.ensureRunning();
    if (this.started) return;
    this.started = true;
    this.transport.onMessage((msg, fromAddress) => {
      // A server being added learns where the leader is from its first message, before any configuration names it.
      if (fromAddress !== undefined) this.rememberPeer(msg.from, fromAddress);
      this.receive(msg);
    });
    this.transport.onPeerUnreachable?.((id) => {
      if (this.stopped) return;
      this.core.reportUnreachable(id);
      this.scheduleReady();
    });
    this.armTick();
    this.armSnapshotCheck();
    this.scheduleReady();
  }

  /**
   * Makes this server a founder of a new cluster: writes term 1 and `configuration` as entry 1.
   * Call it on every founding server with the same configuration, so each knows where the others
   * are. Only a server with no state at all may be bootstrapped, so an existing cluster is never forked.
   */
  bootstrapCluster(configuration: Configuration): void {
    this.ensureRunning();
    validateBootstrapConfiguration(configuration);
    if (this.hardState.term !== 0 || this.logStore.lastIndex() !== 0 || this.lastSnapshot !== undefined) {
      throw new RaftError('InvalidArgument', 'bootstrap requires a server without any existing state');
    }
    const entry: Entry = { index: 1, term: 1, type: EntryType.Configuration, data: encodeConfiguration(configuration) };
    // Term first: a crash in between leaves term 1 and an empty log, never a log ahead of the term.
    this.hardState = { term: 1, vote: '' };
    this.stableStore.set(hardStateRecord(this.hardState));
    this.logStore.storeLogs([entry]);
    this.logStore.sync();
    this.learnAddresses(configuration);
    this.core = this.createCore([entry]);
    this.logger.info({ servers: configuration.servers.map((s) => s.id) }, 'raft cluster bootstrapped');
    this.scheduleReady();
  }

  /**
   * Tells this server where another server is before any configuration it holds does: a server
   * joining a cluster must be able to answer the leader's first messages before it has its log.
   * Transports that report the sender's address (gRPC, in-memory) make this automatic.
   */
  rememberPeer(id: ServerId, address: ServerAddress): void {
    if (!this.addresses.has(id)) this.addresses.set(id, address);
  }

  apply(cmd: Uint8Array, timeoutMs = 0): Promise<{ index: number; response: unknown }> {
    return this.proposeEntry(EntryType.Command, cmd, timeoutMs, 'apply', (index, response) => ({ index, response }));
  }

  /** Resolves once every entry before it is applied to this leader's FSM. */
  barrier(timeoutMs = 0): Promise<{ index: number }> {
    return this.proposeEntry(EntryType.Noop, new Uint8Array(0), timeoutMs, 'barrier', (index) => ({ index }));
  }

  /** A linearizable read point: resolves with it once the local FSM has applied it. */
  readIndex(timeoutMs = 0): Promise<number> {
    return this.requestRead(timeoutMs, true);
  }

  /** Resolves once a quorum has confirmed this server is still the leader. */
  async verifyLeader(timeoutMs = 0): Promise<void> {
    await this.requestRead(timeoutMs, false);
  }

  addVoter(id: ServerId, address: ServerAddress, prevIndex = 0, timeoutMs = 0): Promise<{ index: number }> {
    return this.changeConfiguration({ kind: 'addVoter', id, address }, prevIndex, timeoutMs);
  }

  addNonvoter(id: ServerId, address: ServerAddress, prevIndex = 0, timeoutMs = 0): Promise<{ index: number }> {
    return this.changeConfiguration({ kind: 'addNonvoter', id, address }, prevIndex, timeoutMs);
  }

  demoteVoter(id: ServerId, prevIndex = 0, timeoutMs = 0): Promise<{ index: number }> {
    return this.changeConfiguration({ kind: 'demoteVoter', id }, prevIndex, timeoutMs);
  }

  removeServer(id: ServerId, prevIndex = 0, timeoutMs = 0): Promise<{ index: number }> {
    return this.changeConfiguration({ kind: 'removeServer', id }, prevIndex, timeoutMs);
  }

  /** Hands leadership to `target` (or the most up-to-date voter); resolves when another leader is seen. */
  leadershipTransfer(target?: ServerId, timeoutMs = 2 * this.opts.electionTimeoutMs): Promise<void> {
    const refusal = this.leaderRefusal();
    if (refusal) return Promise.reject(refusal);
    const future = new Future<void>(this.clock, timeoutMs, 'leadership transfer');
    try {
      const chosen = this.core.transferLeadership(target);
      this.logger.info({ target: chosen }, 'leadership transfer started');
      this.transfers.push(future);
    } catch (err) {
      future.reject(this.withLeaderHint(err));
    }
    this.scheduleReady();
    return future.promise;
  }

  /** Snapshots the FSM at the applied index now and compacts the log behind it. */
  async snapshot(): Promise<SnapshotMeta> {
    this.ensureRunning();
    return this.takeSnapshot();
  }

  state(): Role | 'shutdown' {
    return this.stopped ? 'shutdown' : this.role;
  }

  leader(): { id: ServerId; address: ServerAddress } | undefined {
    if (this.stopped || this.leaderId === '') return undefined;
    return { id: this.leaderId, address: this.addressOf(this.leaderId) ?? '' };
  }

  /** The latest configuration in the log (committed or not) and the index of its entry. */
  getConfiguration(): { configuration: Configuration; index: number } {
    const s = this.core.status();
    return { configuration: s.configuration, index: s.configurationIndex };
  }

  stats(): RaftStats {
    const s = this.core.status();
    const c = this.counters;
    return {
      state: this.state(),
      term: s.term,
      vote: s.vote,
      leader: s.leader,
      commitIndex: s.commitIndex,
      appliedIndex: this.appliedIndex,
      firstLogIndex: s.firstIndex,
      lastLogIndex: s.lastIndex,
      lastLogTerm: s.lastTerm,
      lastSnapshotIndex: this.lastSnapshot?.index ?? 0,
      lastSnapshotTerm: this.lastSnapshot?.term ?? 0,
      numPeers: s.configuration.servers.filter((srv) => srv.id !== this.id).length,
      latestConfiguration: s.configuration,
      latestConfigurationIndex: s.configurationIndex,
      fsyncs: c.fsyncs,
      entriesPersisted: c.entriesPersisted,
      entriesPerFsync: c.fsyncs === 0 ? 0 : c.entriesPersisted / c.fsyncs,
      readyPasses: c.readyPasses,
      messagesSent: c.messagesSent,
      entriesApplied: c.entriesApplied,
      snapshotsTaken: c.snapshotsTaken,
      snapshotsInstalled: c.snapshotsInstalled,
    };
  }

  observe(listener: ObservationListener): () => void {
    return this.observers.add(listener);
  }

  /** The core's view plus the last durably written term and vote, for tests and the simulator. */
  inspect(): CoreStatus & { hardState: HardState } {
    return { ...this.core.status(), hardState: { ...this.hardState } };
  }

  /** The in-memory log's entry at `index`, for tests and the simulator. */
  entry(index: number): Entry | undefined {
    return this.core.entry(index);
  }

  /** Why the node stopped itself (fail-stop after a persistence or FSM error), if it did. */
  fatalError(): Error | undefined {
    return this.fatal;
  }

  /**
   * Stops timers and fails pending futures with Shutdown; nothing more is written, so to storage a
   * shutdown looks like a crash (entries the planted ackBeforeFsync bug held back are lost, as they
   * would be). Stores and transport belong to the caller.
   */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stop(new RaftError('Shutdown', 'raft is shut down'));
    this.logger.info('raft shut down');
  }

  // ---- events ----

  private receive(msg: Message): void {
    if (this.stopped) return;
    try {
      if (msg.type === 'InstallSnapshot') this.keepSnapshotData(msg);
      this.core.step(msg);
    } catch (err) {
      this.failStop(err);
      return;
    }
    this.scheduleReady();
  }

  private armTick(): void {
    this.tickTimer = this.clock.setTimer(this.opts.tickMs, () => {
      if (this.stopped) return;
      try {
        this.core.tick();
      } catch (err) {
        this.failStop(err);
        return;
      }
      this.scheduleReady();
      this.armTick();
    });
  }

  private armSnapshotCheck(): void {
    this.snapshotTimer = this.clock.setTimer(this.opts.snapshotIntervalMs, () => {
      if (this.stopped) return;
      if (this.appliedIndex - (this.lastSnapshot?.index ?? 0) >= this.opts.snapshotThreshold) {
        try {
          this.takeSnapshot();
        } catch (err) {
          this.logger.warn({ err }, 'automatic snapshot failed');
        }
      }
      if (!this.stopped) this.armSnapshotCheck();
    });
  }

  private scheduleReady(): void {
    // While a leader's write is pending, the loop resumes by itself once it is done.
    if (this.readyScheduled || this.persistPending || this.stopped || !this.started) return;
    this.readyScheduled = true;
    this.opts.defer(() => {
      this.readyScheduled = false;
      this.runReadyLoop();
    });
  }

  // ---- the Ready pass ----

  private runReadyLoop(): void {
    try {
      while (!this.stopped) {
        this.proposeQueuedChanges();
        if (!this.core.hasReady()) break;
        const rd = this.core.ready();
        this.counters.readyPasses++;
        this.learnAddressesFromEntries(rd.entries);
        if (this.maySendBeforePersisting(rd)) {
          this.sendThenPersist(rd);
          return;
        }
        if (this.opts.bugs.ackBeforeFsync) {
          this.persistAfterSending(rd);
        } else {
          this.persist(rd);
          this.sendAll(rd.messages);
        }
        this.completeReady(rd);
      }
    } catch (err) {
      this.failStop(err);
    }
  }

  /**
   * A leader may send its appends before its own write is durable (Raft thesis 10.2.1, as etcd
   * does): the core counts the leader's own log towards commit only after advance(), so nothing
   * commits on the strength of an entry the leader could still lose. Term or vote changes and
   * snapshots are never sent ahead of the disk.
   */
  private maySendBeforePersisting(rd: Ready): boolean {
    const role = rd.softState?.role ?? this.role;
    return role === 'leader' && rd.hardState === undefined && rd.snapshot === undefined && rd.entries.length > 0 && !this.opts.bugs.ackBeforeFsync;
  }

  /** Sends now and writes after the transport had a turn of the event loop to put the appends on the
   *  wire, so followers write their copies while the leader writes its own. */
  private sendThenPersist(rd: Ready): void {
    this.sendAll(rd.messages);
    this.persistPending = true;
    this.opts.defer(() => {
      this.persistPending = false;
      if (this.stopped) return;
      try {
        this.persist(rd);
        this.completeReady(rd);
      } catch (err) {
        this.failStop(err);
        return;
      }
      this.runReadyLoop();
    });
  }

  /** Once a Ready is durable and sent: apply what committed, answer reads, report role changes (after
   *  applying, so a request committed in the same pass as a step-down still gets its answer), advance. */
  private completeReady(rd: Ready): void {
    this.applyCommitted(rd.committedEntries);
    this.confirmReads(rd.readStates);
    if (rd.softState) this.observeSoftState(rd.softState);
    this.core.advance(rd);
  }

  /** Term and vote, then the log, durable before any message that depends on them is sent. */
  private persist(rd: Ready): void {
    if (rd.hardState) this.writeHardState(rd.hardState);
    if (rd.snapshot) this.resetLogTo(rd.snapshot);
    if (rd.entries.length > 0) this.logStore.storeLogs(rd.entries);
    if (rd.entries.length > 0 || rd.snapshot) this.syncLog(rd.entries.length);
    if (rd.snapshot) this.installSnapshot(rd.snapshot);
  }

  /** The planted ackBeforeFsync bug: acknowledge first, write the log a few milliseconds later. */
  private persistAfterSending(rd: Ready): void {
    if (rd.hardState) this.writeHardState(rd.hardState);
    if (rd.snapshot) {
      this.flushUnsyncedEntries();
      this.resetLogTo(rd.snapshot);
      this.syncLog(0);
      this.installSnapshot(rd.snapshot);
    }
    if (rd.entries.length > 0) {
      this.unsyncedEntries.push(rd.entries);
      this.unsyncedFlushTimer ??= this.clock.setTimer(DEFERRED_FSYNC_MS, () => {
        this.unsyncedFlushTimer = undefined;
        if (this.stopped) return;
        try {
          this.flushUnsyncedEntries();
        } catch (err) {
          this.failStop(err);
        }
      });
    }
    this.sendAll(rd.messages);
  }

  private flushUnsyncedEntries(): void {
    if (this.unsyncedEntries.length === 0) return;
    const batches = this.unsyncedEntries;
    this.unsyncedEntries = [];
    let count = 0;
    for (const entries of batches) {
      this.logStore.storeLogs(entries);
      count += entries.length;
    }
    this.syncLog(count);
  }

  private writeHardState(hs: HardState): void {
    this.stableStore.set(hardStateRecord(hs));
    this.hardState = { ...hs };
  }

  private syncLog(entries: number): void {
    this.logStore.sync();
    this.counters.fsyncs++;
    this.counters.entriesPersisted += entries;
  }

  /** An accepted InstallSnapshot: the log restarts after it (before new entries are appended). */
  private resetLogTo(meta: SnapshotMeta): void {
    this.logStore.reset(meta.index);
  }

  /** Its data was stored by keepSnapshotData when the message arrived; now the FSM takes it on. */
  private installSnapshot(meta: SnapshotMeta): void {
    this.restoreFsm(meta);
    this.lastSnapshot = meta;
    this.counters.snapshotsInstalled++;
    // Entries up to the snapshot will never be applied one by one here.
    for (const [index, waiter] of this.indexWaiters) {
      if (index <= meta.index) {
        this.indexWaiters.delete(index);
        waiter.fail(new RaftError('LeadershipLost', `entry ${index} was superseded by a snapshot`));
      }
    }
    this.logger.info({ index: meta.index, term: meta.term }, 'installed snapshot from leader');
  }

  private restoreFsm(meta: SnapshotMeta): void {
    const { data } = this.snapshotStore.open(meta.index, meta.term);
    this.fsm.restore(data);
    this.appliedIndex = meta.index;
    this.appliedConfiguration = { configuration: meta.configuration, index: meta.configurationIndex };
    this.learnAddresses(meta.configuration);
  }

  /**
   * The core sees only an InstallSnapshot's metadata; the bytes go to the SnapshotStore first so
   * that, if the core accepts it, restoring the FSM and any later restart find them there.
   */
  private keepSnapshotData(msg: InstallSnapshotRequest): void {
    this.learnAddresses(msg.meta.configuration);
    if (msg.data === undefined || msg.term < this.hardState.term || msg.meta.index <= this.appliedIndex) return;
    const held = this.snapshotStore.list().some((m) => m.index === msg.meta.index && m.term === msg.meta.term);
    if (!held) this.snapshotStore.create(msg.meta, msg.data);
  }

  private sendAll(messages: Message[]): void {
    for (const msg of messages) this.send(msg);
  }

  private send(msg: Message): void {
    const address = this.addressOf(msg.to);
    if (address === undefined) {
      this.logger.debug({ to: msg.to, type: msg.type }, 'no address known for peer; message dropped');
      return;
    }
    const out = msg.type === 'InstallSnapshot' && msg.data === undefined ? { ...msg, data: this.snapshotData(msg.meta) } : msg;
    try {
      this.transport.send({ id: msg.to, address }, out);
      this.counters.messagesSent++;
    } catch (err) {
      // Delivery is best effort: the core retries through its own timers and probes.
      this.logger.debug({ err, to: msg.to, type: msg.type }, 'transport send failed');
    }
  }

  private snapshotData(meta: SnapshotMeta): Uint8Array {
    const cached = this.snapshotCache;
    if (cached && cached.index === meta.index && cached.term === meta.term) return cached.data;
    const { data } = this.snapshotStore.open(meta.index, meta.term);
    this.snapshotCache = { index: meta.index, term: meta.term, data };
    return data;
  }

  private applyCommitted(entries: Entry[]): void {
    for (const entry of entries) {
      if (entry.index <= this.appliedIndex) continue;
      let response: unknown;
      if (entry.type === EntryType.Command) {
        response = this.fsm.apply(entry);
      } else if (entry.type === EntryType.Configuration) {
        this.appliedConfiguration = { configuration: decodeConfiguration(entry.data), index: entry.index };
      }
      this.appliedIndex = entry.index;
      this.counters.entriesApplied++;
      const waiter = this.indexWaiters.get(entry.index);
      if (waiter) {
        this.indexWaiters.delete(entry.index);
        if (waiter.term === entry.term) waiter.applied(entry.index, response);
        else waiter.fail(new RaftError('LeadershipLost', `entry ${entry.index} was replaced by a later leader`));
      }
    }
    this.releaseAppliedReads();
  }

  /** A read state for ctx also confirms every earlier request: its index is at least theirs. */
  private confirmReads(states: ReadState[]): void {
    for (const rs of states) {
      while (this.pendingReads.length > 0 && this.pendingReads[0].ctx <= rs.ctx) {
        const read = this.pendingReads.shift()!;
        if (read.waitForApply) this.readsAwaitingApply.push({ index: rs.index, future: read.future });
        else read.future.resolve(rs.index);
      }
    }
    this.releaseAppliedReads();
  }

  private releaseAppliedReads(): void {
    if (this.readsAwaitingApply.length === 0) return;
    const waiting: { index: number; future: Future<number> }[] = [];
    for (const read of this.readsAwaitingApply) {
      if (read.index <= this.appliedIndex) read.future.resolve(read.index);
      else if (!read.future.settled) waiting.push(read);
    }
    this.readsAwaitingApply = waiting;
  }

  private observeSoftState(soft: NonNullable<Ready['softState']>): void {
    const wasLeader = this.role === 'leader';
    const roleChanged = soft.role !== this.role;
    const leaderChanged = soft.leader !== this.leaderId;
    this.role = soft.role;
    this.leaderId = soft.leader;
    if (wasLeader && soft.role !== 'leader') {
      this.failLeaderWork(new RaftError('LeadershipLost', 'leadership lost', this.leader()));
    }
    const term = this.hardState.term;
    if (roleChanged) {
      this.logger.info({ role: soft.role, term }, 'raft role changed');
      this.observers.emit({ type: 'role', role: soft.role, term });
    }
    if (leaderChanged) {
      this.logger.info({ leader: soft.leader, term }, 'raft leader changed');
      this.observers.emit({ type: 'leader', leader: this.leader(), term });
      if (soft.leader !== '' && soft.leader !== this.id) {
        for (const transfer of this.transfers) transfer.resolve();
        this.transfers = [];
      }
    }
  }

  // ---- futures ----

  private proposeEntry<T>(
    type: EntryType.Command | EntryType.Noop,
    data: Uint8Array,
    timeoutMs: number,
    what: string,
    result: (index: number, response: unknown) => T,
  ): Promise<T> {
    const refusal = this.leaderRefusal();
    if (refusal) return Promise.reject(refusal);
    const future = new Future<T>(this.clock, timeoutMs, what);
    try {
      const at = this.core.propose(type, data);
      this.waitForIndex(at, future, result);
    } catch (err) {
      future.reject(this.withLeaderHint(err));
    }
    this.scheduleReady();
    return future.promise;
  }

  private waitForIndex<T>(
    at: { index: number; term: number },
    future: Future<T>,
    result: (index: number, response: unknown) => T,
  ): void {
    this.indexWaiters.set(at.index, {
      term: at.term,
      applied: (index, response) => future.resolve(result(index, response)),
      fail: (err) => future.reject(err),
    });
  }

  private requestRead(timeoutMs: number, waitForApply: boolean): Promise<number> {
    const refusal = this.leaderRefusal();
    if (refusal) return Promise.reject(refusal);
    const future = new Future<number>(this.clock, timeoutMs, waitForApply ? 'read index' : 'verify leader');
    const ctx = this.nextReadCtx++;
    try {
      this.core.readIndex(ctx);
      this.pendingReads.push({ ctx, future, waitForApply });
    } catch (err) {
      future.reject(this.withLeaderHint(err));
    }
    this.scheduleReady();
    return future.promise;
  }

  /** Changes wait their turn: the core takes one at a time, once the previous one committed. */
  private changeConfiguration(change: ConfigurationChange, prevIndex: number, timeoutMs: number): Promise<{ index: number }> {
    const refusal = this.leaderRefusal();
    if (refusal) return Promise.reject(refusal);
    const future = new Future<{ index: number }>(this.clock, timeoutMs, `${change.kind} ${change.id}`);
    this.membershipQueue.push({ change, prevIndex, future });
    this.proposeQueuedChanges();
    this.scheduleReady();
    return future.promise;
  }

  private proposeQueuedChanges(): void {
    while (this.membershipQueue.length > 0 && this.role === 'leader' && this.core.canChangeConfiguration()) {
      const { change, prevIndex, future } = this.membershipQueue.shift()!;
      if (future.settled) continue;
      try {
        const at = this.core.proposeConfigurationChange(change, prevIndex);
        if (change.kind === 'addVoter' || change.kind === 'addNonvoter') this.addresses.set(change.id, change.address);
        this.waitForIndex(at, future, (index) => ({ index }));
      } catch (err) {
        future.reject(this.withLeaderHint(err));
      }
    }
  }

  private takeSnapshot(): SnapshotMeta {
    const index = this.appliedIndex;
    if (index <= (this.lastSnapshot?.index ?? 0)) {
      throw new RaftError('NothingNewToSnapshot', 'nothing new to snapshot');
    }
    const term = this.core.entry(index)?.term;
    if (term === undefined) throw new Error(`applied entry ${index} is missing from the log`);
    const meta: SnapshotMeta = {
      index,
      term,
      configuration: this.appliedConfiguration.configuration,
      configurationIndex: this.appliedConfiguration.index,
    };
    this.snapshotStore.create(meta, this.fsm.snapshot());
    this.lastSnapshot = meta;
    this.counters.snapshotsTaken++;
    const compactUpTo = Math.max(0, index - this.opts.trailingLogs);
    this.core.snapshotTaken(meta, compactUpTo);
    try {
      this.flushUnsyncedEntries();
      if (compactUpTo > 0) this.logStore.compact(compactUpTo);
    } catch (err) {
      this.failStop(err);
      throw err;
    }
    this.logger.info({ index, term, compactUpTo }, 'snapshot taken');
    this.scheduleReady();
    return meta;
  }

  /** Why a leader-only call cannot start here, if it cannot. */
  private leaderRefusal(): RaftError | undefined {
    if (this.stopped) return new RaftError('Shutdown', 'raft is shut down');
    if (this.role !== 'leader') return new RaftError('NotLeader', 'not the leader', this.leader());
    return undefined;
  }

  private withLeaderHint(err: unknown): Error {
    if (err instanceof RaftError && err.code === 'NotLeader' && err.leader === undefined) {
      return new RaftError('NotLeader', err.message, this.leader());
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private failLeaderWork(err: RaftError): void {
    for (const waiter of this.indexWaiters.values()) waiter.fail(err);
    this.indexWaiters.clear();
    for (const read of this.pendingReads) read.future.reject(err);
    this.pendingReads = [];
    for (const read of this.readsAwaitingApply) read.future.reject(err);
    this.readsAwaitingApply = [];
    for (const queued of this.membershipQueue) queued.future.reject(err);
    this.membershipQueue = [];
  }

  // ---- lifecycle ----

  private createCore(entries: Entry[]): RaftCore {
    const { electionTicks, heartbeatTicks } = tickCounts(this.opts);
    return new RaftCore(
      {
        id: this.id,
        electionTicks,
        heartbeatTicks,
        maxEntriesPerMessage: this.opts.maxAppendEntries,
        maxBytesPerMessage: MAX_BYTES_PER_MESSAGE,
        maxInflightMessages: this.opts.maxInflight,
        preVote: this.opts.preVote,
        checkQuorum: this.opts.checkQuorum,
        random: this.opts.random,
        bugs: this.opts.bugs,
      },
      { hardState: { ...this.hardState }, snapshot: this.lastSnapshot, entries },
    );
  }

  private ensureRunning(): void {
    if (this.stopped) throw new RaftError('Shutdown', 'raft is shut down');
  }

  /** Fail-stop: after a storage, FSM or core error the node's state is in doubt, so it stops. */
  private failStop(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.stopped) return;
    this.fatal = error;
    this.logger.error({ err: error }, 'raft stopping after a fatal error');
    this.stop(new RaftError('Shutdown', `raft stopped after a fatal error: ${error.message}`));
  }

  private stop(reason: RaftError): void {
    this.stopped = true;
    this.tickTimer?.cancel();
    this.snapshotTimer?.cancel();
    this.unsyncedFlushTimer?.cancel();
    this.failLeaderWork(reason);
    for (const transfer of this.transfers) transfer.reject(reason);
    this.transfers = [];
    this.observers.emit({ type: 'role', role: 'shutdown', term: this.hardState.term });
  }

  private learnAddressesFromEntries(entries: Entry[]): void {
    for (const e of entries) {
      if (e.type === EntryType.Configuration) this.learnAddresses(decodeConfiguration(e.data));
    }
  }

  private learnAddresses(configuration: Configuration): void {
    for (const s of configuration.servers) this.addresses.set(s.id, s.address);
  }

  private addressOf(id: ServerId): ServerAddress | undefined {
    return id === this.id ? this.transport.localAddress : this.addresses.get(id);
  }
}
