import { seededRandom } from '../../common/random.js';
import type { Configuration, PlantedBugs } from '../types.js';
import { KvClient } from './client.js';
import { labelText } from './event-queue.js';
import { SimCluster } from './cluster.js';
import { History } from './history.js';
import { checkLinearizable } from './linearizability.js';
import { Nemesis } from './nemesis.js';
import { calmNetwork } from './network.js';
import { SafetyCheckers } from './safety-checkers.js';
import { drawScenario, type Scenario, type ScenarioKind } from './scenario.js';
import { Scheduler } from './scheduler.js';
import { simAddress } from './sim-transport.js';
import { violation, ViolationError, type Violation } from './violation.js';

export type BugName = keyof PlantedBugs;

export const BUG_NAMES: readonly BugName[] = [
  'commitWithoutOwnTerm',
  'voteNotFsynced',
  'ackBeforeFsync',
  'noDirectoryFsync',
  'configChangeWithoutOwnTermGate',
];


/** After healing, how long a correct cluster may take to agree on everything. */
const CONVERGENCE_LIMIT_MS = 30_000;
const CONVERGENCE_POLL_MS = 100;
/** A run that needs more events than this is stuck in a loop. */
const MAX_EVENTS = 5_000_000;
const MAX_SERVER_IDS = 7;

export interface SeedOptions {
  seed: number;
  bug?: BugName;
  /** Forces the scenario kind instead of letting the seed draw it. */
  scenario?: ScenarioKind;
  /** Receives the event trace (--verbose). */
  trace?: (line: string) => void;
}

export interface SeedResult {
  seed: number;
  scenario: Scenario['kind'];
  passed: boolean;
  events: number;
  virtualMs: number;
  operations: number;
  /** Set when an invariant broke: which event (1-based) and what. */
  failure?: Violation & { event: number };
}

/** Runs one seed end to end: faults under load, healing, convergence, then the final checks. */
export async function runSeed(opts: SeedOptions): Promise<SeedResult> {
  const run = new SeedRun(opts);
  return run.execute();
}

class SeedRun {
  private readonly random;
  private readonly scenario: Scenario;
  private readonly scheduler = new Scheduler();
  private readonly checkers = new SafetyCheckers();
  private readonly history: History;
  private readonly cluster: SimCluster;
  private readonly nemesis: Nemesis;
  private readonly clients: KvClient[] = [];
  private readonly trace: (line: string) => void;
  private readonly leadersSeen = new Set<string>();
  private events = 0;

  constructor(private readonly opts: SeedOptions) {
    this.random = seededRandom(opts.seed);
    this.scenario = drawScenario(this.random, opts.scenario);
    this.trace = opts.trace ?? (() => undefined);
    this.history = new History(() => this.scheduler.now);
    const bugs: PlantedBugs = opts.bug === undefined ? {} : { [opts.bug]: true };
    this.cluster = new SimCluster({
      scheduler: this.scheduler,
      random: this.random,
      checkers: this.checkers,
      bugs,
      tuning: this.scenario.tuning,
      network: this.scenario.network,
      crashAfterPromiseRate: this.scenario.crashAfterPromiseRate,
    });
    this.nemesis = new Nemesis({
      scheduler: this.scheduler,
      random: this.random,
      cluster: this.cluster,
      scenario: this.scenario,
      electionTimeoutMs: this.scenario.tuning.electionTimeoutMs,
      maxServerIds: MAX_SERVER_IDS,
      trace: this.trace,
    });
  }

  async execute(): Promise<SeedResult> {
    const s = this.scenario;
    this.trace(`seed ${this.opts.seed}: ${JSON.stringify(s)}`);
    try {
      this.bootCluster();
      await this.runUntil(() => this.scheduler.now >= s.faultPhaseMs);
      this.trace(`heal at t=${this.scheduler.now.toFixed(3)}`);
      for (const c of this.clients) c.stop();
      this.cluster.network.faults = calmNetwork;
      this.cluster.crashAfterPromiseRate = 0;
      this.nemesis.heal();
      const deadline = this.scheduler.now + CONVERGENCE_LIMIT_MS;
      this.pollConvergence();
      await this.runUntil(() => this.converged() || this.scheduler.now >= deadline);
      if (!this.converged()) {
        throw violation('convergence', `the healed cluster did not converge within ${CONVERGENCE_LIMIT_MS} ms: ${this.describeServers()}`);
      }
      this.finalChecks();
      return this.result();
    } catch (err) {
      if (!(err instanceof ViolationError)) throw err;
      this.trace(`violation at event ${this.events}: ${err.message}`);
      return this.result({ ...err.violation, event: this.events });
    }
  }

  private result(failure?: Violation & { event: number }): SeedResult {
    return {
      seed: this.opts.seed,
      scenario: this.scenario.kind,
      passed: failure === undefined,
      events: this.events,
      virtualMs: this.scheduler.now,
      operations: this.history.size,
      failure,
    };
  }

  private bootCluster(): void {
    const ids = Array.from({ length: this.scenario.initialServers }, (_, i) => `s${i + 1}`);
    const configuration: Configuration = { servers: ids.map((id) => ({ id, address: simAddress(id), suffrage: 'voter' })) };
    for (const id of ids) {
      const server = this.cluster.addMachine(id);
      server.boot(configuration);
      server.start();
    }
    this.nemesis.start();
    const keys = Array.from({ length: this.scenario.keys }, (_, i) => `k${i}`);
    for (let i = 0; i < this.scenario.clients; i++) {
      const client = new KvClient(i, {
        scheduler: this.scheduler,
        random: this.random,
        cluster: this.cluster,
        history: this.history,
        checkers: this.checkers,
        keys,
        timeoutMs: this.scenario.tuning.electionTimeoutMs * 6,
        thinkMs: this.scenario.clientThinkMs,
      });
      this.clients.push(client);
      client.start();
    }
  }

  /** Keeps the agenda non-empty while converging, so `runUntil` re-evaluates its condition. */
  private pollConvergence(): void {
    this.scheduler.after(CONVERGENCE_POLL_MS, 'convergence poll', () => {
      this.nemesis.reviveMembers();
      if (!this.converged()) this.pollConvergence();
    });
  }

  private async runUntil(done: () => boolean): Promise<void> {
    while (!done()) {
      const event = this.scheduler.step();
      if (event === undefined) throw violation('liveness', 'nothing left to happen: every timer stopped');
      this.events++;
      if (this.events > MAX_EVENTS) throw violation('liveness', `more than ${MAX_EVENTS} events`);
      if (this.opts.trace !== undefined) this.trace(`#${this.events} t=${event.time.toFixed(3)} ${labelText(event.label)}`);
      // Let every promise the event settled run its continuations before anything else happens.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.afterEvent();
    }
  }

  private afterEvent(): void {
    for (const id of this.cluster.crashRequested()) {
      this.trace(`crash ${id} right after it promised durable state`);
      const server = this.cluster.servers.get(id);
      if (server !== undefined) {
        this.scheduler.after(this.random.int(10, this.scenario.tuning.electionTimeoutMs * 4), `restart ${id}`, () => this.nemesis.restart(server));
      }
    }
    const views = this.cluster.touchedViews();
    this.checkers.afterEvent(views);
    for (const view of views) {
      const fatal = this.cluster.servers.get(view.id)?.node?.fatalError();
      if (fatal !== undefined) throw violation('fail-stop', `${view.id} stopped itself: ${fatal.message}`);
      if (view.status.role !== 'leader') continue;
      const key = `${view.id}@${view.status.term}`;
      if (this.leadersSeen.has(key)) continue;
      this.leadersSeen.add(key);
      if (this.opts.trace !== undefined) {
        const c = view.status.configuration.servers.map((m) => `${m.id}${m.suffrage === 'voter' ? '' : '(nv)'}`).join(',');
        this.trace(`leader ${key} last=${view.status.lastIndex} commit=${view.status.commitIndex} members=[${c}]@${view.status.configurationIndex}`);
      }
      const server = this.cluster.servers.get(view.id);
      if (server !== undefined) this.nemesis.onNewLeader(server);
    }
  }

  private converged(): boolean {
    if (this.clients.some((c) => !c.idle)) return false;
    const leader = this.cluster.leader()?.node;
    if (leader === undefined) return false;
    const ls = leader.stats();
    if (ls.commitIndex < ls.lastLogIndex || ls.lastLogTerm !== ls.term) return false;
    return ls.latestConfiguration.servers.every((m) => {
      const node = this.cluster.servers.get(m.id)?.node;
      if (node === undefined) return false;
      const ms = node.stats();
      return ms.appliedIndex >= ls.commitIndex && ms.lastLogIndex === ls.lastLogIndex && ms.commitIndex === ls.commitIndex;
    });
  }

  /** Each running server's role, term, log, commit and apply points, and idea of the membership. */
  private describeServers(): string {
    return this.cluster
      .running()
      .map((server) => {
        const st = server.node?.stats();
        if (st === undefined) return `${server.id}: down`;
        const members = st.latestConfiguration.servers.map((m) => `${m.id}${m.suffrage === 'voter' ? '' : '(nv)'}`).join(',');
        return `${server.id}: ${st.state} t${st.term} last=${st.lastLogIndex}/${st.lastLogTerm} commit=${st.commitIndex} applied=${st.appliedIndex} members=[${members}]`;
      })
      .join('; ');
  }

  private finalChecks(): void {
    const leader = this.cluster.leader();
    const ls = leader?.node?.stats();
    if (leader === undefined || ls === undefined) throw violation('convergence', 'no leader at the end');
    const members = ls.latestConfiguration.servers.map((m) => this.cluster.servers.get(m.id));
    const digests = new Set(members.map((s) => s?.fsm?.digest()));
    if (digests.size !== 1) throw violation('state machine safety', 'the members\' state machines differ at the end');
    for (const [index, ack] of this.checkers.apply.acknowledgedIndexes()) {
      const committed = this.checkers.log.committedAt(index);
      if (index > ls.commitIndex || (committed !== undefined && committed.content !== ack.content)) {
        throw violation('acknowledged write', `op ${ack.opId}, acknowledged at index ${index}, is not committed there at the end`);
      }
    }
    const result = checkLinearizable(this.history.operations());
    if (result.ok === false) throw violation('linearizability', result.description);
    if (result.ok === 'unknown') throw violation('linearizability', `inconclusive: ${result.description}`);
  }
}
