import type { Random } from '../../common/random.js';
import type { ServerId } from '../types.js';
import type { SimCluster } from './cluster.js';
import { pickWeighted, type FaultWeights, type Scenario } from './scenario.js';
import type { Scheduler } from './scheduler.js';
import type { SimServer } from './sim-server.js';
import { simAddress } from './sim-transport.js';

export interface NemesisEnv {
  scheduler: Scheduler;
  random: Random;
  cluster: SimCluster;
  scenario: Scenario;
  electionTimeoutMs: number;
  /** Most server ids ever used; removed ones are re-added (with a wiped disk) before new ones are made. */
  maxServerIds: number;
  trace: (line: string) => void;
}

const MIN_VOTERS = 3;
const MAX_VOTERS = 5;

/**
 * The adversary: at random intervals it partitions the network, cuts links one way, isolates the
 * leader, crashes and restarts servers, pauses them, changes membership and transfers leadership,
 * all while clients keep writing. `heal` ends every fault so the cluster can converge.
 */
export class Nemesis {
  private stopped = false;
  /** Servers removed from the cluster and shut down: never restarted, but may be re-added wiped. */
  private readonly retired = new Set<ServerId>();

  constructor(private readonly env: NemesisEnv) {}

  start(): void {
    this.scheduleNext();
  }

  isRetired(id: ServerId): boolean {
    return this.retired.has(id);
  }

  /** Stops new faults and undoes the standing ones: links, pauses, crashed servers. */
  heal(): void {
    this.stopped = true;
    const { cluster } = this.env;
    cluster.network.heal();
    for (const s of cluster.servers.values()) {
      s.timeline.resume();
      if (!s.isUp && !this.retired.has(s.id)) cluster.restart(s);
    }
    this.reviveMembers();
  }

  /**
   * A removal can be overtaken by a queued change that adds the server back; a retired server the
   * cluster still counts as a member is restarted from its disk, as an operator would.
   */
  reviveMembers(): void {
    const members = this.env.cluster.leader()?.node?.getConfiguration().configuration.servers ?? [];
    for (const m of members) {
      const server = this.env.cluster.servers.get(m.id);
      if (server === undefined || !this.retired.has(m.id)) continue;
      this.retired.delete(m.id);
      if (!server.isUp) {
        this.env.trace(`nemesis: revive ${m.id}, still a member`);
        this.env.cluster.restart(server);
      }
    }
  }

  /**
   * Called when a server is first seen leading a term: the moments when a membership change can
   * race the leader's first commit, and when a leader dying leaves its entries half replicated.
   */
  onNewLeader(server: SimServer): void {
    const { random, scenario, scheduler } = this.env;
    if (this.stopped) return;
    if (random.next() < scenario.changeOnNewLeaderRate) {
      this.env.trace(`nemesis: membership change on new leader ${server.id}`);
      this.changeMembership(server);
      // A follower that hears nothing of the new term yet can still vote for a leader of the old one.
      if (random.next() < scenario.slowFollowerOnChangeRate) this.cutOff(server.id);
    }
    if (random.next() < scenario.disruptNewLeaderRate) {
      const crash = random.next() < 0.5;
      // Often at once, so the new leader's first entry stays on its disk alone; otherwise after a
      // round trip or a few, when it may have just committed something.
      const delay = random.next() < scenario.immediateDisruptionShare ? 0 : random.next() * 30;
      scheduler.after(delay, 'nemesis disrupt new leader', () => {
        if (this.stopped) return;
        if (crash) this.crash(server);
        else this.isolate(server.id);
      });
    }
  }

  private scheduleNext(): void {
    const { scheduler, random, scenario } = this.env;
    const wait = -Math.log(1 - random.next()) * scenario.faultIntervalMs;
    scheduler.after(wait, 'nemesis', () => {
      if (this.stopped) return;
      this.act(pickWeighted<keyof FaultWeights>(random, { ...scenario.weights }));
      this.scheduleNext();
    });
  }

  private act(action: keyof FaultWeights): void {
    const leader = this.env.cluster.leader();
    switch (action) {
      case 'partition':
        return this.partition();
      case 'oneWayCut':
        return this.oneWayCut();
      case 'isolateLeader':
        if (leader !== undefined) this.isolate(leader.id);
        return;
      case 'leaderMinority':
        if (leader !== undefined) this.leaderMinority(leader.id);
        return;
      case 'crash':
        return this.crash(this.pickRunning());
      case 'crashLeader':
        return this.crash(leader);
      case 'pause':
        return this.pause(this.env.random.next() < 0.5 ? leader : this.pickRunning());
      case 'membership':
        if (leader !== undefined) this.changeMembership(leader);
        return;
      case 'transfer':
        if (leader !== undefined) this.transfer(leader);
        return;
    }
  }

  private healLater(): void {
    const { scheduler, random, electionTimeoutMs } = this.env;
    scheduler.after(random.int(electionTimeoutMs, electionTimeoutMs * 12), 'nemesis heal network', () => {
      this.env.trace('nemesis: heal network');
      this.env.cluster.network.heal();
    });
  }

  private partition(): void {
    const ids = shuffle(this.env.random, this.activeIds());
    if (ids.length < 2) return;
    const cut = this.env.random.int(1, ids.length - 1);
    const [a, b] = [ids.slice(0, cut), ids.slice(cut)];
    this.env.trace(`nemesis: partition [${a.join(',')}] | [${b.join(',')}]`);
    this.env.cluster.network.partition(a, b);
    this.healLater();
  }

  private oneWayCut(): void {
    const { random, cluster } = this.env;
    const ids = this.activeIds();
    if (ids.length < 2) return;
    const from = ids[random.int(0, ids.length - 1)];
    const targets = random.next() < 0.5 ? ids.filter((id) => id !== from) : [ids.filter((id) => id !== from)[random.int(0, ids.length - 2)]];
    this.env.trace(`nemesis: cut ${from} -> [${targets.join(',')}]`);
    for (const to of targets) cluster.network.cutOneWay(from, to);
    this.healLater();
  }

  /** Cuts `from` off from one random other server, one way. */
  private cutOff(from: ServerId): void {
    const others = this.activeIds().filter((id) => id !== from);
    if (others.length === 0) return;
    const to = others[this.env.random.int(0, others.length - 1)];
    this.env.trace(`nemesis: cut ${from} -> ${to}`);
    this.env.cluster.network.cutOneWay(from, to);
    this.healLater();
  }

  private leaderMinority(leader: ServerId): void {
    const others = shuffle(this.env.random, this.activeIds().filter((id) => id !== leader));
    if (others.length < 3) return;
    const minority = [leader, others[0]];
    this.env.trace(`nemesis: partition [${minority.join(',')}] | [${others.slice(1).join(',')}]`);
    this.env.cluster.network.partition(minority, others.slice(1));
    this.healLater();
  }

  private isolate(id: ServerId): void {
    this.env.trace(`nemesis: isolate ${id}`);
    this.env.cluster.network.isolate(id, this.activeIds());
    this.healLater();
  }

  private crash(server: SimServer | undefined): void {
    if (server === undefined || !server.isUp) return;
    const { scheduler, random, cluster, electionTimeoutMs } = this.env;
    this.env.trace(`nemesis: crash ${server.id}`);
    cluster.crash(server);
    scheduler.after(random.int(10, electionTimeoutMs * 10), `restart ${server.id}`, () => this.restart(server));
  }

  /** Brings back a server that crashed (on its own or by the nemesis), unless it left the cluster. */
  restart(server: SimServer): void {
    if (server.isUp || this.retired.has(server.id)) return;
    this.env.trace(`nemesis: restart ${server.id}`);
    this.env.cluster.restart(server);
  }

  private pause(server: SimServer | undefined): void {
    if (server === undefined || server.timeline.isPaused) return;
    const { scheduler, random, electionTimeoutMs } = this.env;
    this.env.trace(`nemesis: pause ${server.id}`);
    server.timeline.pause();
    scheduler.after(random.int(10, electionTimeoutMs * 4), `resume ${server.id}`, () => server.timeline.resume());
  }

  private transfer(leader: SimServer): void {
    const node = leader.node;
    if (node === undefined) return;
    const voters = node
      .getConfiguration()
      .configuration.servers.filter((s) => s.suffrage === 'voter' && s.id !== leader.id)
      .map((s) => s.id);
    const target = this.env.random.next() < 0.3 || voters.length === 0 ? undefined : voters[this.env.random.int(0, voters.length - 1)];
    this.env.trace(`nemesis: transfer leadership from ${leader.id} to ${target ?? 'anyone'}`);
    node.leadershipTransfer(target).catch(() => undefined);
  }

  private changeMembership(leader: SimServer): void {
    const node = leader.node;
    if (node === undefined) return;
    const { random } = this.env;
    const servers = node.getConfiguration().configuration.servers;
    const voters = servers.filter((s) => s.suffrage === 'voter');
    const nonvoters = servers.filter((s) => s.suffrage === 'nonvoter');
    const timeoutMs = this.env.electionTimeoutMs * 4;
    if (nonvoters.length > 0 && (voters.length < MAX_VOTERS || random.next() < 0.3)) {
      const s = nonvoters[random.int(0, nonvoters.length - 1)];
      if (voters.length < MAX_VOTERS && random.next() < 0.8) {
        this.env.trace(`nemesis: promote ${s.id} via ${leader.id}`);
        node.addVoter(s.id, s.address, 0, timeoutMs).catch(() => undefined);
      } else {
        this.remove(node, s.id, timeoutMs);
      }
      return;
    }
    if (voters.length < MAX_VOTERS && (voters.length <= MIN_VOTERS || random.next() < 0.5)) {
      this.addServer(leader, servers.map((s) => s.id), timeoutMs);
      return;
    }
    if (voters.length > MIN_VOTERS) {
      // Mostly followers: a leader removing itself just hands over, which other actions already cover.
      const followers = voters.filter((v) => v.id !== leader.id);
      const pool = random.next() < 0.9 && followers.length > 0 ? followers : voters;
      const s = pool[random.int(0, pool.length - 1)];
      if (random.next() < 0.5) {
        this.env.trace(`nemesis: demote ${s.id} via ${leader.id}`);
        node.demoteVoter(s.id, 0, timeoutMs).catch(() => undefined);
      } else {
        this.remove(node, s.id, timeoutMs);
      }
    }
  }

  /** Starts an empty server (a retired one with a wiped disk if any) and adds it as a nonvoter. */
  private addServer(leader: SimServer, members: ServerId[], timeoutMs: number): void {
    const { cluster } = this.env;
    const candidates = [...cluster.servers.values()].filter((s) => this.retired.has(s.id) && !s.isUp && !members.includes(s.id));
    let server: SimServer | undefined = candidates[0];
    if (server === undefined) {
      if (cluster.servers.size >= this.env.maxServerIds) return;
      server = cluster.addMachine(`s${cluster.servers.size + 1}`);
    } else {
      this.retired.delete(server.id);
      cluster.wipe(server);
    }
    // Usually a server joins as a nonvoter and is promoted once caught up; sometimes it joins as a
    // voter at once, which changes the quorum in a single step (the case the own-term gate protects).
    const asVoter = this.env.random.next() < 0.4;
    this.env.trace(`nemesis: add ${server.id} as ${asVoter ? 'voter' : 'nonvoter'} via ${leader.id}`);
    server.boot();
    server.start();
    const node = leader.node;
    if (node === undefined) return;
    const address = simAddress(server.id);
    (asVoter ? node.addVoter(server.id, address, 0, timeoutMs) : node.addNonvoter(server.id, address, 0, timeoutMs)).catch(() => undefined);
  }

  private remove(node: NonNullable<SimServer['node']>, id: ServerId, timeoutMs: number): void {
    this.env.trace(`nemesis: remove ${id}`);
    node.removeServer(id, 0, timeoutMs).then(
      () => {
        // Once its removal is committed the server is shut down for good (until re-added wiped).
        const server = this.env.cluster.servers.get(id);
        if (server === undefined) return;
        this.retired.add(id);
        // It lingers a while first, as a removed server does until it notices; it may still vote in old configurations.
        const linger = this.env.random.int(this.env.electionTimeoutMs, this.env.electionTimeoutMs * 20);
        this.env.scheduler.after(linger, `retire ${id}`, () => {
          this.reviveMembers();
          if (this.retired.has(id)) void server.shutdown();
        });
      },
      () => undefined,
    );
  }

  private pickRunning(): SimServer | undefined {
    const running = this.env.cluster.running();
    return running.length === 0 ? undefined : running[this.env.random.int(0, running.length - 1)];
  }

  /** Every machine not retired: the ones faults are aimed at. */
  private activeIds(): ServerId[] {
    return [...this.env.cluster.servers.keys()].filter((id) => !this.retired.has(id));
  }
}

function shuffle<T>(random: Random, items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
