/**
 * What a manager does while it is the Raft leader, and only then. On election it waits until its
 * store has applied everything committed before (a barrier), so no loop acts on a stale view (an
 * orchestrator that missed its predecessor's last tasks would create them twice); makes sure the
 * Cluster object exists (`prepare`, see cluster-object.ts); then starts a fresh set of loops.
 * Losing leadership stops them all.
 */
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/types.js';

/** A leader-only loop: the scheduler, each orchestrator, the reaper, the dispatcher's duties. */
export interface LeaderLoop {
  start(): void;
  stop(): void | Promise<void>;
}

export interface LeaderDutiesOptions {
  store: Store;
  /** Resolves once every entry committed before the call is applied locally (RaftNode.barrier). */
  barrier: () => Promise<unknown>;
  /** A fresh set of loops for one term of leadership, in the order they start (they stop in reverse). */
  createLoops: () => LeaderLoop[];
  /** Runs after the barrier and before the loops, e.g. creating the Cluster object; retried on failure. */
  prepare?: () => Promise<unknown>;
  logger: Logger;
  /** Pause between attempts to get ready while still leader. Default 200 ms. */
  retryMs?: number;
}

export class LeaderDuties {
  /** Bumped on every change of role, so a start still waiting on Raft knows it is outdated. */
  private generation = 0;
  private loops: LeaderLoop[] = [];

  constructor(private readonly opts: LeaderDutiesOptions) {}

  /** Whether the loops are running. */
  get active(): boolean {
    return this.loops.length > 0;
  }

  /** This manager became leader: get ready, then start the loops (unless leadership ends first). */
  async begin(): Promise<void> {
    const generation = ++this.generation;
    const log = this.opts.logger;
    for (;;) {
      try {
        await this.opts.barrier();
        if (generation !== this.generation) return;
        await this.opts.prepare?.();
        break;
      } catch (err) {
        if (generation !== this.generation) return;
        log.warn({ err }, 'leader: not ready yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, this.opts.retryMs ?? 200));
        if (generation !== this.generation) return;
      }
    }
    if (generation !== this.generation) return;
    this.loops = this.opts.createLoops();
    for (const loop of this.loops) loop.start();
    log.info({ loops: this.loops.length, appliedIndex: this.opts.store.appliedIndex() }, 'leader: loops started');
  }

  /** Leadership ended (or the manager stops): stop every loop, newest first. */
  async end(): Promise<void> {
    this.generation++;
    const loops = this.loops.reverse();
    this.loops = [];
    if (loops.length === 0) return;
    const results = await Promise.allSettled(loops.map((loop) => loop.stop()));
    for (const r of results) if (r.status === 'rejected') this.opts.logger.warn({ err: r.reason }, 'leader: a loop did not stop cleanly');
    this.opts.logger.info({ loops: loops.length }, 'leader: loops stopped');
  }
}
