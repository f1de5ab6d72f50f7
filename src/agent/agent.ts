/**
 * The worker agent: joins the cluster with a token on its first start (credentials.ts), keeps its
 * certificate renewed (renewal.ts) and a session with the managers over mutual TLS (session.ts),
 * turns the assignments it receives into task controllers (assignments.ts, task-controller.ts) that run tasks through the
 * executor, reports their status in batches (status-reporter.ts), answers the log subscriptions
 * its session carries (log-publisher.ts), wires its containers into overlay networks from the
 * NetworkState its session carries (network/, with an executor that has network namespaces), and
 * saves what it knows in its state directory (state.ts).
 *
 * A restarted agent resumes from that state before any manager is heard from: each saved task's
 * controller re-attaches to what the executor still runs, and the managers are told what they may
 * have missed (every status of ours that is ahead of theirs in the first assignment set). Tasks no
 * longer its own are stopped when that first full set arrives. Stopping the agent leaves its tasks
 * running, like docker's live restore.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionMessage } from '../../proto/gen/dispatcher.js';
import type { Platform, Resources, Task, TaskStatus } from '../../proto/gen/objects.js';
import { systemClock, type Clock } from '../common/clock.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { systemRandom, type Random } from '../common/random.js';
import { NODE_CREDENTIALS_FILE } from '../manager/ca/node-credentials.js';
import { isAhead, TaskSet } from './assignments.js';
import type { BackoffConfig } from './backoff.js';
import { obtainNodeCredentials } from './credentials.js';
import type { Executor } from './executor.js';
import type { NodeCredentials } from '../manager/ca/node-credentials.js';
import { LogPublisher } from './log-publisher.js';
import { NetworkAgent } from './network/network-agent.js';
import { hostDescription } from './node-description.js';
import { CertificateRenewer } from './renewal.js';
import { AgentSession } from './session.js';
import { loadAgentState, StateWriter, type AgentState } from './state.js';
import { StatusReporter } from './status-reporter.js';
import { TaskController } from './task-controller.js';
import type { UpstreamServer } from '../network/dns/upstream.js';

export interface AgentOptions {
  /** Where the agent keeps its state and its certificate (created if missing). One agent per directory. */
  stateDir: string;
  /** Manager addresses (HOST:PORT) to join through; the cluster's own list is learnt from them. */
  managers: string[];
  /**
   * The worker join token, needed only until the node has joined: with a certificate saved in the
   * state directory it is ignored.
   */
  joinToken?: string;
  executor: Executor;
  /** Default: os.hostname(). */
  hostname?: string;
  /** The node's own labels (docker's engine labels). */
  labels?: Record<string, string>;
  /** The network agent's gateway bridge subnet (containers with host-mode ports); its default when absent. */
  gatewaySubnet?: string;
  /** Where the network agent's resolver forwards names that are not the cluster's; nowhere when absent. */
  dnsUpstream?: readonly UpstreamServer[];
  /** Default: this host's CPUs and memory. */
  resources?: Resources;
  /** Default: this host's os and machine. */
  platform?: Platform;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  /** Wall clock for status timestamps and certificate renewal. Default Date.now. */
  now?: () => number;
  /** How long status reports gather before they are sent. Default 100 ms. */
  statusBatchMs?: number;
  /** How often a healthchecked task's health is read. Default 1 s. */
  healthPollMs?: number;
  /** Default 100 ms doubling to 5 s. */
  reconnectBackoff?: BackoffConfig;
  /** Between failed certificate renewals. Default 1 s doubling to 1 min. */
  renewalBackoff?: BackoffConfig;
}

export type AgentEnd = { kind: 'stopped' } | { kind: 'removed'; message: string };

export interface AgentStatus {
  /** The id the node's certificate names. */
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
  private readonly renewer: CertificateRenewer;
  private readonly logs: LogPublisher;
  private readonly stateDir: string;

  private constructor(
    opts: AgentOptions,
    saved: AgentState,
    credentials: NodeCredentials,
    /** Only with an executor that takes it (useNetworking). */
    private readonly network: NetworkAgent | undefined,
  ) {
    this.stateDir = opts.stateDir;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const clock = opts.clock ?? systemClock;
    const now = opts.now ?? Date.now;
    const random = opts.random ?? systemRandom;
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
      credentials,
      description: () =>
        hostDescription({ hostname: opts.hostname, labels: opts.labels, resources: opts.resources, platform: opts.platform }),
      clock,
      random,
      logger,
      backoff: opts.reconnectBackoff,
      events: {
        message: (msg) => this.onSessionMessage(msg),
        online: (send) => this.reporter.online(send),
        offline: () => {
          this.reporter.offline();
          this.logs.stopAll();
        },
        removed: (message) => void this.onRemoved(message),
      },
    });
    this.logs = new LogPublisher({
      executor: opts.executor,
      task: (taskId) => this.tasks.get(taskId)?.currentTask,
      nodeId: () => this.session.nodeId,
      open: (failed) => {
        const call = this.session.publishLogs((err) => err && failed(err));
        return call && { sessionId: call.sessionId, sink: call.stream };
      },
      logger,
    });
    this.renewer = new CertificateRenewer({
      credentials,
      stateDir: opts.stateDir,
      // The manager of the live session first: it is known to answer.
      managers: () => {
        const live = this.session.connectedTo;
        return live ? [live, ...this.session.managers.filter((m) => m !== live)] : this.session.managers;
      },
      clock,
      now,
      random,
      logger,
      backoff: opts.renewalBackoff,
      renewed: (creds) => this.session.updateCredentials(creds),
      removed: (message) => {
        this.session.stop();
        void this.onRemoved(message);
      },
    });
    // Before any controller runs: a resumed task's container is adopted by the networking.
    if (network) opts.executor.useNetworking?.(network);
    this.tasks.resume(saved.tasks);
  }

  /**
   * Loads the saved state and certificate (joining the cluster with `joinToken` if there is no
   * certificate yet: JoinError if that fails), resumes its tasks, and starts connecting (it does not
   * wait to be connected).
   */
  static async start(opts: AgentOptions): Promise<Agent> {
    await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    const saved = loadAgentState(opts.stateDir);
    const logger = opts.logger ?? silentLogger;
    const credentials = await obtainNodeCredentials({ stateDir: opts.stateDir, managers: [...opts.managers, ...saved.managers], joinToken: opts.joinToken, logger });
    const network = opts.executor.useNetworking
      ? await NetworkAgent.start({ nodeId: credentials.nodeId, stateDir: opts.stateDir, gatewaySubnet: opts.gatewaySubnet, dnsUpstream: opts.dnsUpstream, clock: opts.clock, logger })
      : undefined;
    const agent = new Agent(opts, saved, credentials, network);
    logger.info({ stateDir: opts.stateDir, nodeId: credentials.nodeId, tasks: saved.tasks.length }, 'agent: starting');
    agent.session.start();
    agent.renewer.start();
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
    this.renewer.stop();
    this.reporter.offline();
    this.logs.stopAll();
    this.tasks.detach();
    await this.network?.close();
    await this.writer.close();
    this.logger.info({ nodeId: this.session.nodeId }, 'agent: stopped; tasks left running');
    this.resolveDone({ kind: 'stopped' });
  }

  private onSessionMessage(msg: SessionMessage): void {
    if (msg.full) this.tasks.apply(msg.updated);
    else this.tasks.applyChanges(msg.updated, msg.removed);
    this.resendMissed(msg.updated);
    for (const subscription of msg.logSubscriptions) this.logs.handle(subscription);
    if (msg.networkState) this.network?.apply(msg.networkState);
    // The manager list may be new: worth saving.
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

  /**
   * The cluster no longer has this node: its tasks belong to nobody, so they are stopped and
   * removed, and its certificate is deleted (it is worth nothing now; joining again needs a token).
   */
  private async onRemoved(message: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.renewer.stop();
    this.reporter.offline();
    await this.tasks.removeAll();
    await this.network?.removeAll().catch((err: unknown) => this.logger.warn({ err }, 'agent: could not remove the node’s networks'));
    await this.network?.close();
    this.forgotten = true;
    this.writer.changed();
    await this.writer.close();
    await rm(join(this.stateDir, NODE_CREDENTIALS_FILE), { force: true });
    this.logger.error({ message }, 'agent: this node was removed from the cluster; its tasks were stopped');
    this.resolveDone({ kind: 'removed', message });
  }

  private snapshot(): AgentState {
    if (this.forgotten) return { managers: this.session.managers, tasks: [] };
    return { managers: this.session.managers, tasks: this.tasks.snapshot() };
  }
}
