import { seededRandom } from '../../../common/random.js';
import {
  EntryType,
  encodeConfiguration,
  type Configuration,
  type Entry,
  type HardState,
  type Message,
  type PlantedBugs,
  type ReadState,
  type ServerId,
  type SnapshotMeta,
} from '../../types.js';
import type { CoreConfig, Ready } from '../core-types.js';
import { RaftCore } from '../raft.js';

/** What a fake server keeps "on disk" and what it applied. */
export interface FakeServer {
  core: RaftCore;
  hardState: HardState;
  log: Entry[];
  snapshot?: SnapshotMeta;
  applied: Entry[];
  appliedIndex: number;
  readStates: ReadState[];
  readies: Ready[];
}

export interface FakeNetworkOptions {
  /** Servers bootstrapped with a configuration entry at index 1; defaults to all voters. */
  voters: ServerId[];
  nonvoters?: ServerId[];
  /** Servers started with no state at all (to be added later). */
  blank?: ServerId[];
  config?: Partial<Omit<CoreConfig, 'id' | 'random'>>;
  bugs?: PlantedBugs;
  seed?: number;
}

export const TEST_ELECTION_TICKS = 10;
export const TEST_HEARTBEAT_TICKS = 1;

/**
 * A test fake: a tiny synchronous network that persists each core's Ready in memory, delivers its
 * messages to the other cores and lets tests cut links, hold messages and restart servers.
 */
export class FakeNetwork {
  readonly servers = new Map<ServerId, FakeServer>();
  /** Messages sent but not delivered yet. */
  inflight: Message[] = [];
  /** Messages that were dropped by a cut link, for inspection. */
  dropped: Message[] = [];
  /** Messages matching this are lost in transit, as if on a cut link. */
  dropIf: (m: Message) => boolean = () => false;
  private readonly cut = new Set<string>();
  private readonly coreConfig: Omit<CoreConfig, 'id' | 'random'>;
  private seed: number;

  constructor(opts: FakeNetworkOptions) {
    this.seed = opts.seed ?? 1;
    this.coreConfig = {
      electionTicks: TEST_ELECTION_TICKS,
      heartbeatTicks: TEST_HEARTBEAT_TICKS,
      maxEntriesPerMessage: 64,
      maxBytesPerMessage: 1 << 20,
      maxInflightMessages: 256,
      preVote: true,
      checkQuorum: true,
      bugs: opts.bugs,
      ...opts.config,
    };
    const configuration: Configuration = {
      servers: [
        ...opts.voters.map((id) => ({ id, address: `addr-${id}`, suffrage: 'voter' as const })),
        ...(opts.nonvoters ?? []).map((id) => ({ id, address: `addr-${id}`, suffrage: 'nonvoter' as const })),
      ],
    };
    const bootstrap: Entry = { index: 1, term: 1, type: EntryType.Configuration, data: encodeConfiguration(configuration) };
    for (const s of configuration.servers) this.addServer(s.id, [bootstrap]);
    for (const id of opts.blank ?? []) this.addServer(id, []);
  }

  addServer(id: ServerId, log: Entry[] = []): FakeServer {
    const server: FakeServer = {
      core: undefined as unknown as RaftCore,
      hardState: { term: 0, vote: '' },
      log: [...log],
      applied: [],
      appliedIndex: 0,
      readStates: [],
      readies: [],
    };
    this.servers.set(id, server);
    this.boot(id);
    return server;
  }

  /** Rebuilds a server's core from what it persisted, as after a crash. */
  restart(id: ServerId): RaftCore {
    // The state machine is rebuilt from the snapshot and a replay of the log.
    const s = this.server(id);
    s.applied = [];
    s.appliedIndex = s.snapshot?.index ?? 0;
    return this.boot(id);
  }

  core(id: ServerId): RaftCore {
    return this.server(id).core;
  }

  server(id: ServerId): FakeServer {
    const s = this.servers.get(id);
    if (!s) throw new Error(`no server ${id}`);
    return s;
  }

  cutLink(a: ServerId, b: ServerId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  isolate(id: ServerId): void {
    for (const other of this.servers.keys()) if (other !== id) this.cutLink(id, other);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Processes every pending Ready: persists, applies and queues messages. */
  flushReadies(): void {
    for (const id of this.servers.keys()) this.processReady(id);
  }

  processReady(id: ServerId): void {
    const s = this.server(id);
    while (s.core.hasReady()) {
      const rd = s.core.ready();
      s.readies.push(rd);
      if (rd.hardState) s.hardState = rd.hardState;
      if (rd.snapshot) {
        s.snapshot = rd.snapshot;
        s.log = [];
      }
      if (rd.entries.length > 0) {
        const from = rd.entries[0].index;
        s.log = s.log.filter((e) => e.index < from).concat(rd.entries);
      }
      this.checkReady(id, rd);
      s.applied.push(...rd.committedEntries);
      s.appliedIndex = rd.committedEntries[rd.committedEntries.length - 1]?.index ?? rd.snapshot?.index ?? s.appliedIndex;
      s.readStates.push(...rd.readStates);
      this.inflight.push(...rd.messages);
      s.core.advance(rd);
    }
  }

  /** Delivers the messages in flight now (not those they provoke); returns how many were delivered. */
  deliver(filter: (m: Message) => boolean = () => true): number {
    const batch = this.inflight;
    this.inflight = [];
    let delivered = 0;
    for (const m of batch) {
      if (!filter(m)) {
        this.inflight.push(m);
        continue;
      }
      if (this.cut.has(`${m.from}>${m.to}`) || !this.servers.has(m.to) || this.dropIf(m)) {
        this.dropped.push(m);
        continue;
      }
      this.core(m.to).step(m);
      delivered++;
    }
    return delivered;
  }

  /** Runs Ready processing and delivery until the network is quiet. */
  stabilize(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      this.flushReadies();
      if (this.inflight.length === 0) return;
      this.deliver();
    }
    throw new Error('network did not stabilize');
  }

  tick(id: ServerId, times = 1): void {
    for (let i = 0; i < times; i++) this.core(id).tick();
  }

  /** Ticks one server until it becomes leader (others stay still), stabilizing after each tick. */
  elect(id: ServerId): void {
    for (let i = 0; i < 4 * TEST_ELECTION_TICKS; i++) {
      this.tick(id);
      this.stabilize();
      if (this.core(id).status().role === 'leader') return;
    }
    throw new Error(`${id} did not become leader`);
  }

  /** Ticks every server the given number of times, stabilizing after each round. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.servers.keys()) this.tick(id);
      this.stabilize();
    }
  }

  leaders(): ServerId[] {
    return [...this.servers.keys()].filter((id) => this.core(id).status().role === 'leader');
  }

  /** Invariants every Ready must keep, checked on every one the fake processes. */
  private checkReady(id: ServerId, rd: Ready): void {
    const s = this.server(id);
    let expected = rd.snapshot?.index ?? s.appliedIndex;
    for (const e of rd.committedEntries) {
      if (e.index !== expected + 1) {
        throw new Error(`${id}: committed entry ${e.index} handed out after ${expected}`);
      }
      expected = e.index;
    }
    if (rd.hardState && rd.hardState.term < s.hardState.term) throw new Error(`${id}: term went backwards`);
  }

  private boot(id: ServerId): RaftCore {
    const s = this.server(id);
    s.core = new RaftCore(
      { id, random: seededRandom(this.seed++), ...this.coreConfig },
      { hardState: s.hardState, snapshot: s.snapshot, entries: s.log },
    );
    return s.core;
  }
}

export function command(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function commandsOf(entries: Entry[]): string[] {
  return entries.filter((e) => e.type === EntryType.Command).map((e) => new TextDecoder().decode(e.data));
}
