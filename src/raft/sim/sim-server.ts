import { silentLogger } from '../../common/logger.js';
import { seededRandom, type Random } from '../../common/random.js';
import { RaftNode } from '../node.js';
import { FileSnapshotStore, FileStableStore, SimFs, WalLogStore } from '../storage/index.js';
import type { Configuration, Message, PlantedBugs, ServerId } from '../types.js';
import { KvFsm } from './kv.js';
import type { SafetyCheckers } from './safety-checkers.js';
import type { ServerTimeline } from './server-timeline.js';
import type { ServerView } from './server-view.js';
import { SimTransport, simAddress } from './sim-transport.js';
import { violation } from './violation.js';

/** Raft timing and sizes for simulation: short timeouts, tiny segments and frequent snapshots. */
export interface SimRaftTuning {
  tickMs: number;
  heartbeatTimeoutMs: number;
  electionTimeoutMs: number;
  maxAppendEntries: number;
  maxInflight: number;
  snapshotThreshold: number;
  snapshotIntervalMs: number;
  trailingLogs: number;
  segmentBytes: number;
}

export interface SimServerDeps {
  checkers: SafetyCheckers;
  bugs: PlantedBugs;
  tuning: SimRaftTuning;
  /** Sends a message of this server onto the network. */
  send: (from: ServerId, to: ServerId, msg: Message) => void;
  /** Seeds each incarnation's own Random. */
  random: Random;
}

/**
 * One simulated machine: its disk (a SimFs that survives crashes), its clock, and the process
 * running on it: the real RaftNode over the real storage code, rebuilt from the disk on restart.
 */
export class SimServer {
  fs = new SimFs();
  node: RaftNode | undefined;
  fsm: KvFsm | undefined;
  private transport: SimTransport | undefined;
  private generation = 0;

  constructor(
    readonly id: ServerId,
    readonly timeline: ServerTimeline,
    private readonly deps: SimServerDeps,
  ) {}

  get isUp(): boolean {
    return this.node !== undefined;
  }

  get incarnation(): number {
    return this.generation;
  }

  /** Starts a process on the disk as it is. A correct server always recovers; failing to is a violation. */
  boot(bootstrap?: Configuration): RaftNode {
    const generation = ++this.generation;
    const alive = (): boolean => this.generation === generation && this.node !== undefined;
    const { bugs, tuning } = this.deps;
    const fsm = new KvFsm((entry, previouslyApplied) => this.deps.checkers.onApply(this.id, entry, previouslyApplied));
    const transport = new SimTransport(simAddress(this.id), (to, msg) => {
      if (!alive()) return;
      this.deps.checkers.onSend(this.id, msg, (index) => this.node?.entry(index)?.term);
      this.deps.send(this.id, to, msg);
    });
    let node: RaftNode;
    try {
      node = new RaftNode({
        id: this.id,
        fsm,
        logStore: new WalLogStore({ dir: '/raft/log', fs: this.fs, segmentBytes: tuning.segmentBytes, bugs, logger: silentLogger }),
        stableStore: new FileStableStore({ dir: '/raft/stable', fs: this.fs, bugs }),
        snapshotStore: new FileSnapshotStore({ dir: '/raft/snapshots', fs: this.fs, bugs }),
        transport,
        clock: this.timeline.clock(alive),
        random: childRandom(this.deps.random),
        defer: (fn) => this.timeline.defer(`${this.id} ready`, () => alive() && fn()),
        logger: silentLogger,
        tickMs: tuning.tickMs,
        heartbeatTimeoutMs: tuning.heartbeatTimeoutMs,
        electionTimeoutMs: tuning.electionTimeoutMs,
        maxAppendEntries: tuning.maxAppendEntries,
        maxInflight: tuning.maxInflight,
        snapshotThreshold: tuning.snapshotThreshold,
        snapshotIntervalMs: tuning.snapshotIntervalMs,
        trailingLogs: tuning.trailingLogs,
        bugs,
      });
      if (bootstrap !== undefined) node.bootstrapCluster(bootstrap);
    } catch (err) {
      throw violation('recovery', `${this.id} could not start from its disk: ${(err as Error).message}`);
    }
    this.node = node;
    this.fsm = fsm;
    this.transport = transport;
    return node;
  }

  start(): void {
    this.node?.start();
  }

  /** Another machine's process died: a real transport would see its connection reset. */
  peerDied(id: ServerId): void {
    this.transport?.reportUnreachable(id);
  }

  /** Hands an arrived message to the running process, if any. */
  deliver(msg: Message): void {
    this.transport?.deliver(msg);
  }

  /** The process dies mid-flight (no shutdown) and the disk keeps only what was made durable. */
  crash(random: Random): void {
    this.kill();
    this.fs.crash(random);
  }

  /** A clean stop, as for a server removed from the cluster. */
  async shutdown(): Promise<void> {
    const node = this.node;
    this.kill();
    await node?.shutdown();
  }

  /** A brand new disk, for a server rejoining under its old id after losing everything. */
  wipe(): void {
    this.fs = new SimFs();
  }

  view(): ServerView | undefined {
    const node = this.node;
    if (node === undefined) return undefined;
    return { id: this.id, incarnation: this.generation, status: node.inspect(), entry: (i) => node.entry(i) };
  }

  private kill(): void {
    void this.transport?.close();
    this.node = undefined;
    this.fsm = undefined;
    this.transport = undefined;
  }
}

/** Each incarnation draws a fresh seed from the run's generator, so the whole run stays one seed. */
function childRandom(parent: Random): Random {
  return seededRandom(parent.int(0, 0x7fffffff));
}
