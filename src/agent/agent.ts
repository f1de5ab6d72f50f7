/**
 * The worker agent: keeps a session with the managers (session.ts), turns the assignment sets it
 * receives into task controllers (assignments.ts, task-controller.ts) that run tasks through the
 * executor, reports their status in batches (status-reporter.ts), and saves what it knows in its
 * state directory (state.ts).
 *
 * A restarted agent resumes from that state before any manager is heard from: each saved task's
 * controller re-attaches to what the executor still runs, and the managers are told what they may
 * have missed (every status of ours that is ahead of theirs in the first assignment set). Stopping
 * the agent leaves its tasks running, like docker's live restore.
 */
import { mkdir } from 'node:fs/promises';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { SessionMessage } from '../../proto/gen/dispatcher.js';
import type { Platform, Resources, Task, TaskStatus } from '../../proto/gen/objects.js';
import { systemClock, type Clock } from '../common/clock.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { systemRandom, type Random } from '../common/random.js';
import { isAhead, TaskSet } from './assignments.js';
import type { BackoffConfig } from './backoff.js';
import type { Executor } from './executor.js';
import { hostDescription } from './node-description.js';
import { AgentSession } from './session.js';
import { loadAgentState, StateWriter, type AgentState } from './state.js';
import { StatusReporter } from './status-reporter.js';
import { TaskController } from './task-controller.js';

export interface AgentOptions {
  /** Where the agent keeps its state (created if missing). One agent per directory. */
  stateDir: string;
  /** Manager addresses (HOST:PORT) to join through; the cluster's own list is learnt from them. */
  managers: string[];
  executor: Executor;
  /** Default: os.hostname(). */
  hostname?: string;
  /** The node's own labels (docker's engine labels). */
  labels?: Record<string, string>;
  /** Default: this host's CPUs and memory. */
  resources?: Resources;
  /** Default: this host's os and machine. */
  platform?: Platform;
  /** Default: insecure, until nodes hold certificates. */
  credentials?: ChannelCredentials;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  /** Wall clock for status timestamps. Default Date.now. */
  now?: () => number;
  /** How long status reports gather before they are sent. Default 100 ms. */
  statusBatchMs?: number;
  /** How often a healthchecked task's health is read. Default 1 s. */
  healthPollMs?: number;
  /** Default 100 ms doubling to 5 s. */
  reconnectBackoff?: BackoffConfig;
}

export type AgentEnd = { kind: 'stopped' } | { kind: 'removed'; message: string };

export interface AgentStatus {
  /** Empty until a manager has named this node. */
  nodeId: string;
  /** The manager of the live session, if any. */
  manager: string | undefined;
  tasks: Map<string, TaskStatus>;
  /** Status reports no manager has accepted yet. */
  unreported: number;
}

/** Pause before retrying an executor shutdown or removal that failed. */
const EXECUTOR_RETRY_MS = 1_000;

export class Agent {
  /** Resolves when the agent ends: stopped, or its node removed from the cluster. */
  readonly done: Promise<AgentEnd>;
  private resolveDone: (end: AgentEnd) => void = () => undefined;
  private ended = false;
  /** The node left the cluster: its id and tasks are forgotten. */
  private forgotten = false;
  private readonly logger: Logger;
  private readonly reporter: StatusReporter;
  private readonly tasks: TaskSet;
  private readonly writer: StateWriter;
  private readonly session: AgentSession;

  private constructor(opts: AgentOptions, saved: AgentState) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const clock = opts.clock ?? systemClock;
    const now = opts.now ?? Date.now;
    const logger = (this.logger = opts.logger ?? silentLogger);
    this.reporter = new StatusReporter({ clock, batchMs: opts.statusBatchMs, logger });
    this.writer = new StateWriter({ stateDir: opts.stateDir, clock, logger, snapshot: () => this.snapshot() });
    this.tasks = new TaskSet({
      logger,
      changed: () => this.writer.changed(),
      createController: (task, status) =>
        new TaskController(task, status, {
          executor: opts.executor,
          report: (taskId, s) => this.onTaskStatus(taskId, s),
          clock,
          now,
          logger,
          healthPollMs: opts.healthPollMs ?? 1_000,
          retryMs: EXECUTOR_RETRY_MS,
        }),
    });
    this.session = new AgentSession({
      // Saved managers after the join addresses: the operator's choice first, then what the cluster said.
      managers: [...opts.managers, ...saved.managers],
      nodeId: saved.nodeId,
      description: () =>
        hostDescription({ hostname: opts.hostname, labels: opts.labels, resources: opts.resources, platform: opts.platform }),
      credentials: opts.credentials,
      clock,
      random: opts.random ?? systemRandom,
      logger,
      backoff: opts.reconnectBackoff,
      events: {
        message: (msg) => this.onSessionMessage(msg),
        online: (send) => this.reporter.online(send),
        offline: () => this.reporter.offline(),
        removed: (message) => void this.onRemoved(message),
      },
    });
    this.tasks.resume(saved.tasks);
  }

  /** Loads the saved state, resumes its tasks, and starts connecting (it does not wait to be connected). */
  static async start(opts: AgentOptions): Promise<Agent> {
    await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    const saved = loadAgentState(opts.stateDir);
    const agent = new Agent(opts, saved);
    agent.logger.info({ stateDir: opts.stateDir, nodeId: saved.nodeId || undefined, tasks: saved.tasks.length }, 'agent: starting');
    agent.session.start();
    return agent;
  }

  get nodeId(): string {
    return this.session.nodeId;
  }

  status(): AgentStatus {
    return {
      nodeId: this.session.nodeId,
      manager: this.session.connectedTo,
      tasks: this.tasks.statuses(),
      unreported: this.reporter.backlog(),
    };
  }

  /**
   * Ends the session and saves the state; the tasks keep running and a new agent on the same state
   * directory takes them up again. Reports not yet sent are resent by that agent.
   */
  async stop(): Promise<void> {
    if (this.ended) return this.done.then(() => undefined);
    this.ended = true;
    this.session.stop();
    this.reporter.offline();
    this.tasks.detach();
    await this.writer.close();
    this.logger.info({ nodeId: this.session.nodeId }, 'agent: stopped; tasks left running');
    this.resolveDone({ kind: 'stopped' });
  }

  private onSessionMessage(msg: SessionMessage): void {
    this.tasks.apply(msg.assignments);
    this.resendMissed(msg.assignments);
    // The node id or the manager list may be new: worth saving.
    this.writer.changed();
  }

  /** Statuses of ours the managers' copy of the task has not caught up with (lost in a failover, or never sent). */
  private resendMissed(assignments: readonly Task[]): void {
    for (const task of assignments) {
      const controller = this.tasks.get(task.meta?.id ?? '');
      if (controller && isAhead(controller.currentStatus, task.status)) this.reporter.report(controller.id, controller.currentStatus);
    }
  }

  private onTaskStatus(taskId: string, status: TaskStatus): void {
    this.reporter.report(taskId, status);
    this.writer.changed();
  }

  /** The cluster no longer has this node: its tasks belong to nobody, so they are stopped and removed. */
  private async onRemoved(message: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.reporter.offline();
    await this.tasks.removeAll();
    this.forgotten = true;
    this.writer.changed();
    await this.writer.close();
    this.logger.error({ message }, 'agent: this node was removed from the cluster; its tasks were stopped');
    this.resolveDone({ kind: 'removed', message });
  }

  private snapshot(): AgentState {
    if (this.forgotten) return { nodeId: '', managers: this.session.managers, tasks: [] };
    return { nodeId: this.session.nodeId, managers: this.session.managers, tasks: this.tasks.snapshot() };
  }
}
