/**
 * The role manager (swarmkit's roleManager): a leader loop that brings Raft membership in line with
 * what operators asked of the nodes, and the nodes' observed role in line with Raft.
 *
 * - A node whose spec.desiredRole is MANAGER and which is a caught-up non-voter (it joined as one:
 *   the join flow adds it with addNonvoter) gets its vote (addVoter).
 * - A node whose desiredRole is WORKER and which holds a vote loses it (demoteVoter) and stays a
 *   non-voter until it is removed. The leader never demotes itself: it hands leadership over first
 *   and the next leader's role manager carries the demotion out.
 * - A Raft server whose node was removed (Cluster.removedNodes) leaves Raft (removeServer).
 * - Node.role is what Raft has: MANAGER for a voter, WORKER otherwise.
 *
 * A vote is taken away only if the voters that remain can still make a quorum (manager-quorum.ts).
 * Raft servers without a Node object (the founding managers, a manager mid-join) are left alone.
 * Everything is read afresh from the store and the Raft configuration on each pass, so a new leader
 * resumes whatever its predecessor left unfinished. Each pass makes at most one Raft change, named
 * against the configuration it read (prevIndex), so a concurrent change fails instead of mixing.
 */
import { NodeRole, type Node } from '../../proto/gen/objects.js';
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { Configuration, Server } from '../raft/types.js';
import type { Store, StoreEvent } from '../store/types.js';
import { voteRemovalRefusal } from './controlapi/manager-quorum.js';
import type { LeaderLoop } from './leader-duties.js';

/** What the role manager needs of the Raft node it leads; the manager wires RaftNode and its transport in. */
export interface RaftMembership {
  /** This manager's Raft id. */
  readonly selfId: string;
  /** The latest configuration (committed or not) and the index of its entry. */
  getConfiguration(): { configuration: Configuration; index: number };
  /** The leader's view of how far `id`'s log matches its own; undefined if it tracks no such server. */
  progress(id: string): { matchIndex: number; lastIndex: number } | undefined;
  /** Whether `id` is reachable now (this manager counts itself). */
  reachable(id: string): boolean;
  addVoter(id: string, address: string, prevIndex: number, timeoutMs: number): Promise<unknown>;
  demoteVoter(id: string, prevIndex: number, timeoutMs: number): Promise<unknown>;
  removeServer(id: string, prevIndex: number, timeoutMs: number): Promise<unknown>;
  leadershipTransfer(target: string | undefined, timeoutMs: number): Promise<unknown>;
}

export interface RoleManagerOptions {
  store: Store;
  membership: RaftMembership;
  logger: Logger;
  clock?: Clock;
  /** How often membership is rechecked when nothing in the store changed (catch-up, reachability). */
  intervalMs?: number;
  /** A non-voter within this many entries of the leader's last index is caught up. */
  catchUpEntries?: number;
  /** How long one membership change may take to commit. */
  changeTimeoutMs?: number;
}

export const DEFAULT_ROLE_CHECK_INTERVAL_MS = 1_000;
/** As hashicorp/raft's autopilot (MaxTrailingLogs 250), with room for a busy leader's in-flight window. */
export const DEFAULT_CATCH_UP_ENTRIES = 500;
const DEFAULT_CHANGE_TIMEOUT_MS = 10_000;

/** One Raft membership change and why. */
type Change =
  | { kind: 'promote'; server: Server }
  | { kind: 'demote'; server: Server }
  | { kind: 'remove'; server: Server }
  | { kind: 'handOver'; reason: string };

export class RoleManager implements LeaderLoop {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly catchUpEntries: number;
  private readonly changeTimeoutMs: number;
  private readonly log: Logger;
  private unwatch: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Refusals already logged, so a refusal that persists is logged once, not every pass. */
  private readonly reported = new Set<string>();

  constructor(private readonly opts: RoleManagerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.intervalMs = opts.intervalMs ?? DEFAULT_ROLE_CHECK_INTERVAL_MS;
    this.catchUpEntries = opts.catchUpEntries ?? DEFAULT_CATCH_UP_ENTRIES;
    this.changeTimeoutMs = opts.changeTimeoutMs ?? DEFAULT_CHANGE_TIMEOUT_MS;
    this.log = opts.logger;
  }

  start(): void {
    this.unwatch = this.opts.store.watch((events) => {
      if (events.some((event) => this.concernsRoles(event))) this.kick();
    });
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    this.timer?.cancel();
    await this.running;
  }

  /** Runs a pass now, or right after the one under way. */
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer?.cancel();
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.kick();
      } else {
        this.timer = this.clock.setTimer(this.intervalMs, () => this.kick());
      }
    });
  }

  private async pass(): Promise<void> {
    try {
      await this.writeObservedRoles();
      if (this.stopped) return;
      const change = this.nextChange();
      if (change === undefined) return;
      await this.carryOut(change);
      // One change at a time: look again at once, against the configuration it produced. After a
      // hand-over this loop is about to be stopped; should the transfer not take, the timer retries.
      if (change.kind !== 'handOver') this.again = true;
    } catch (err) {
      this.log.warn({ err }, 'role manager: pass failed; retrying');
    }
  }

  /** Node.role follows Raft: MANAGER for a voter, WORKER for everyone else. */
  private async writeObservedRoles(): Promise<void> {
    const servers = this.opts.membership.getConfiguration().configuration.servers;
    const voters = new Set(servers.filter((s) => s.suffrage === 'voter').map((s) => s.id));
    const observed = (node: Node) => (voters.has(node.meta!.id) ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER);
    const stale = this.opts.store.view((tx) => tx.nodes.all().filter((node) => node.role !== observed(node)));
    if (stale.length === 0) return;
    await this.opts.store.update((tx) => {
      for (const node of stale) {
        const current = tx.nodes.get(node.meta!.id);
        // Deleted or rewritten since it was read: the next pass looks at it again.
        if (current === undefined || current.meta!.version !== node.meta!.version) continue;
        tx.nodes.update({ ...current, role: observed(current) });
        this.log.info({ node: current.meta!.id, role: NodeRole[observed(current)] }, 'role manager: node role follows raft');
      }
    });
  }

  /** The first membership change the store asks for that can be made now. */
  private nextChange(): Change | undefined {
    const { membership } = this.opts;
    const servers = membership.getConfiguration().configuration.servers;
    const { nodes, removed } = this.opts.store.view((tx) => ({
      nodes: new Map(tx.nodes.all().map((node) => [node.meta!.id, node])),
      removed: tx.clusters.all()[0]?.removedNodes?.removedAt ?? {},
    }));
    for (const server of servers) {
      const node = nodes.get(server.id);
      if (server.id in removed) {
        const change = this.voteLosingChange({ kind: 'remove', server }, servers);
        if (change) return change;
      } else if (node?.spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER && server.suffrage === 'nonvoter') {
        if (this.caughtUp(server.id)) return { kind: 'promote', server };
      } else if (node !== undefined && node.spec?.desiredRole !== NodeRole.NODE_ROLE_MANAGER && server.suffrage === 'voter') {
        const change = this.voteLosingChange({ kind: 'demote', server }, servers);
        if (change) return change;
      }
    }
    return undefined;
  }

  /** `change` if it is safe now, a hand-over if it concerns the leader itself, else undefined (logged). */
  private voteLosingChange(change: Change & { kind: 'demote' | 'remove' }, servers: readonly Server[]): Change | undefined {
    const { membership } = this.opts;
    const refusal = voteRemovalRefusal({ servers, id: change.server.id, reachable: (id) => membership.reachable(id) });
    const key = `${change.kind} ${change.server.id}`;
    if (refusal !== undefined) {
      if (!this.reported.has(key)) this.log.warn({ node: change.server.id }, `role manager: cannot ${change.kind} ${change.server.id} yet: ${refusal}`);
      this.reported.add(key);
      return undefined;
    }
    this.reported.delete(key);
    if (change.server.id === membership.selfId) return { kind: 'handOver', reason: `to ${change.kind} this manager` };
    return change;
  }

  private caughtUp(id: string): boolean {
    const progress = this.opts.membership.progress(id);
    return progress !== undefined && progress.lastIndex - progress.matchIndex <= this.catchUpEntries;
  }

  private async carryOut(change: Change): Promise<void> {
    const { membership } = this.opts;
    const prevIndex = membership.getConfiguration().index;
    const timeout = this.changeTimeoutMs;
    if (change.kind === 'handOver') {
      this.log.info(`role manager: handing leadership over ${change.reason}`);
      await membership.leadershipTransfer(undefined, timeout);
      return;
    }
    const { id, address } = change.server;
    this.log.info({ node: id }, `role manager: ${change.kind} ${id}`);
    if (change.kind === 'promote') await membership.addVoter(id, address, prevIndex, timeout);
    else if (change.kind === 'demote') await membership.demoteVoter(id, prevIndex, timeout);
    else await membership.removeServer(id, prevIndex, timeout);
  }

  /**
   * Whether a change can call for a membership change or a role write. Workers' status writes (a
   * thousand nodes heartbeating) are none of the role manager's business; the timer catches anything else.
   */
  private concernsRoles(event: StoreEvent): boolean {
    if (event.kind === 'cluster') return true;
    if (event.kind !== 'node') return false;
    if (event.action === 'delete') return false;
    const managerish = (node: Node) => node.role === NodeRole.NODE_ROLE_MANAGER || node.spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER;
    if (managerish(event.object) || (event.action === 'update' && managerish(event.old))) return true;
    return this.opts.membership.getConfiguration().configuration.servers.some((server) => server.id === event.object.meta!.id);
  }
}
