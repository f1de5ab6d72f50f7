import type { Random } from '../../common/random.js';
import type { Message, PlantedBugs, ServerId } from '../types.js';
import { SimNetwork, type NetworkFaults } from './network.js';
import type { SafetyCheckers } from './safety-checkers.js';
import type { Scheduler } from './scheduler.js';
import { ServerTimeline } from './server-timeline.js';
import type { ServerView } from './server-view.js';
import { SimServer, type SimRaftTuning } from './sim-server.js';

export interface ClusterEnv {
  scheduler: Scheduler;
  random: Random;
  checkers: SafetyCheckers;
  bugs: PlantedBugs;
  tuning: SimRaftTuning;
  network: NetworkFaults;
  /** Chance that a server crashes right after sending a message that promises durable state. */
  crashAfterPromiseRate: number;
}

/** The simulated machines, the network between them, and crash/restart with their durability checks. */
export class SimCluster {
  readonly servers = new Map<ServerId, SimServer>();
  readonly network: SimNetwork<Message>;
  /** Servers something ran on since the last look: only their state can have changed. */
  private readonly touched = new Set<ServerId>();
  /** Servers that just made a promise and are to die before anything else happens. */
  private readonly crashRequests = new Set<ServerId>();
  /** Chance that a server crashes right after sending a message that promises durable state. */
  crashAfterPromiseRate: number;

  constructor(private readonly env: ClusterEnv) {
    this.crashAfterPromiseRate = env.crashAfterPromiseRate;
    this.network = new SimNetwork<Message>(env.scheduler, env.random, env.network, (_from, to, msg) => {
      const server = this.servers.get(to);
      server?.timeline.run(() => `${to} receive ${describeMessage(msg)}`, () => server.deliver(msg));
    });
  }

  /** A new machine with a drifting clock and an empty disk; others learn its address from configurations and its messages. */
  addMachine(id: ServerId): SimServer {
    const { scheduler, random } = this.env;
    const timeline = new ServerTimeline(scheduler, id, 0.9 + random.next() * 0.2, random.next() * 100_000, () => this.touched.add(id));
    const server = new SimServer(id, timeline, {
      checkers: this.env.checkers,
      bugs: this.env.bugs,
      tuning: this.env.tuning,
      random,
      send: (from, to, msg) => this.send(from, to, msg),
    });
    this.servers.set(id, server);
    return server;
  }

  running(): SimServer[] {
    return [...this.servers.values()].filter((s) => s.isUp);
  }

  /** The running leader with the highest term, if any. */
  leader(): SimServer | undefined {
    let best: SimServer | undefined;
    let bestTerm = -1;
    for (const s of this.running()) {
      const status = s.node?.inspect();
      if (status?.role !== 'leader') continue;
      const term = status.term;
      if (term > bestTerm) [best, bestTerm] = [s, term];
    }
    return best;
  }

  /** Views of the running servers something ran on since the last call. */
  touchedViews(): ServerView[] {
    const views: ServerView[] = [];
    for (const id of this.touched) {
      const v = this.servers.get(id)?.view();
      if (v !== undefined) views.push(v);
    }
    this.touched.clear();
    return views;
  }

  crash(server: SimServer): void {
    const view = server.view();
    if (view === undefined) return;
    this.env.checkers.durability.onCrash(view);
    this.env.checkers.log.forget(server.id, view.incarnation);
    server.crash(this.env.random);
    for (const other of this.running()) if (other !== server) other.peerDied(server.id);
  }

  /** Restarts a crashed server from its disk; the recovered state must keep its promises. */
  restart(server: SimServer): void {
    if (server.isUp) return;
    server.boot();
    this.touched.add(server.id);
    const view = server.view();
    if (view !== undefined) this.env.checkers.durability.onRestart(view, view.status.hardState);
    server.start();
  }

  /** Gives a stopped server a brand new disk: it rejoins as a stranger, having promised nothing. */
  wipe(server: SimServer): void {
    server.wipe();
    this.env.checkers.durability.forget(server.id);
  }

  /** Crashes the servers that asked for it during the last event. */
  crashRequested(): ServerId[] {
    const ids = [...this.crashRequests];
    this.crashRequests.clear();
    for (const id of ids) {
      const server = this.servers.get(id);
      if (server !== undefined) this.crash(server);
    }
    return ids;
  }

  private send(from: ServerId, to: ServerId, msg: Message): void {
    if (this.crashAfterPromiseRate > 0 && promisesDurableState(msg) && this.env.random.next() < this.crashAfterPromiseRate) {
      this.crashRequests.add(from);
    }
    this.network.send(from, to, structuredClone(msg), () => describeMessage(msg));
  }
}

function promisesDurableState(msg: Message): boolean {
  switch (msg.type) {
    case 'AppendEntriesResponse':
      return msg.success;
    case 'RequestVote':
      return !msg.preVote;
    case 'RequestVoteResponse':
      return msg.granted && !msg.preVote;
    default:
      return false;
  }
}

/** One line about a message for the --verbose trace. */
export function describeMessage(msg: Message): string {
  const head = `${msg.type} ${msg.from}->${msg.to} t${msg.term}`;
  switch (msg.type) {
    case 'AppendEntries':
      return `${head} prev=${msg.prevLogIndex}/${msg.prevLogTerm} n=${msg.entries.length} commit=${msg.leaderCommit}`;
    case 'AppendEntriesResponse':
      return `${head} ${msg.success ? 'ok' : 'reject'} match=${msg.matchIndex} hint=${msg.hintIndex}/${msg.hintTerm}`;
    case 'RequestVote':
      return `${head}${msg.preVote ? ' pre' : ''}${msg.leadershipTransfer ? ' transfer' : ''} last=${msg.lastLogIndex}/${msg.lastLogTerm}`;
    case 'RequestVoteResponse':
      return `${head}${msg.preVote ? ' pre' : ''} ${msg.granted ? 'granted' : 'denied'}`;
    case 'InstallSnapshot':
      return `${head} snap=${msg.meta.index}/${msg.meta.term}`;
    case 'InstallSnapshotResponse':
      return `${head} ${msg.success ? 'ok' : 'fail'} match=${msg.matchIndex}`;
    case 'TimeoutNow':
      return head;
  }
}
