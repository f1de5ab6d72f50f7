/**
 * The leader's log broker: it joins `shoal service logs` (Control.SubscribeLogs) to the workers
 * holding the logs (Dispatcher.PublishLogs). Active with the leader duties, between start() and
 * stop() (the dispatcher's).
 *
 * A subscription resolves its selector against the store (selector.ts) to tasks, groups them by
 * node, and asks each node through its session for its part: one "publication" per node (and, for
 * a following subscription, one more each time a new task of its services starts, on whatever
 * node). What nodes publish is relayed to the subscriber; a node that is down, gone, not connected,
 * or whose publication ended without its `close`, becomes one warning line and counts as done. A
 * subscription that does not follow ends when every publication is done; the subscriber going away
 * cancels the publications still open on their nodes.
 */
import * as grpc from '@grpc/grpc-js';
import type { SubscribeLogsMessage, SubscribeLogsRequest } from '../../../proto/gen/control.js';
import type { LogSubscription, PublishLogsRequest } from '../../../proto/gen/dispatcher.js';
import type { LogOptions } from '../../../proto/gen/logs.js';
import { NodeState, type Task } from '../../../proto/gen/objects.js';
import { newId } from '../../common/ids.js';
import type { Logger } from '../../common/logger.js';
import type { ReadTx, Store, StoreEvent } from '../../store/types.js';
import { nodeHasTask, resolveSelector } from './selector.js';

/** What the broker needs of the dispatcher's node sessions. */
export interface NodeSessionsPort {
  /** Sends the subscription on the node's live session; false if the node has none. */
  pushLogSubscription(nodeId: string, subscription: LogSubscription): boolean;
}

/** The subscriber's end of a SubscribeLogs call (a grpc ServerWritableStream is one, through an adapter). */
export interface LogSubscriber {
  /** false: the subscriber is slow; wait for onDrain. */
  write(message: SubscribeLogsMessage): boolean;
  onDrain(listener: () => void): void;
  /** Every publication is done (a subscription that does not follow). */
  end(): void;
  /** The subscription cannot go on here (leadership moved). */
  fail(status: Partial<grpc.StatusObject>): void;
}

export interface LogBrokerOptions {
  store: Store;
  logger: Logger;
}

interface Subscription {
  readonly id: string;
  readonly options: LogOptions;
  readonly serviceIds: Set<string>;
  readonly subscriber: LogSubscriber;
  /** Every task asked for so far, so a following subscription asks for each once. */
  readonly tasks: Set<string>;
  /** This subscription's publications not yet done, by id. */
  readonly open: Map<string, Publication>;
}

interface Publication {
  readonly id: string;
  readonly subscription: Subscription;
  readonly nodeId: string;
  readonly tasks: Set<string>;
}

export class LogBroker {
  private active = false;
  private stopWatching: (() => void) | undefined;
  private readonly subscriptions = new Map<string, Subscription>();
  /** Every open publication, by id (what nodes name in PublishLogs). */
  private readonly publications = new Map<string, Publication>();
  private sessions: NodeSessionsPort | undefined;

  constructor(private readonly opts: LogBrokerOptions) {}

  /** The dispatcher's sessions, through which nodes are asked for their logs. */
  attach(sessions: NodeSessionsPort): void {
    this.sessions = sessions;
  }

  get isActive(): boolean {
    return this.active;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.stopWatching = this.opts.store.watch((events) => this.onStoreEvents(events));
  }

  /** Leadership ended: every subscriber is told to try again (its call reaches the new leader). */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.stopWatching?.();
    this.stopWatching = undefined;
    const subscriptions = [...this.subscriptions.values()];
    this.subscriptions.clear();
    this.publications.clear();
    for (const s of subscriptions) s.subscriber.fail({ code: grpc.status.UNAVAILABLE, details: 'the leader changed while following the logs; run the command again' });
  }

  /**
   * Starts a subscription; throws (a ControlError NOT_FOUND) if the selector names an unknown
   * service or task. Returns what to call when the subscriber goes away.
   */
  subscribe(request: SubscribeLogsRequest, subscriber: LogSubscriber): () => void {
    const options: LogOptions = { follow: request.options?.follow ?? false, tail: request.options?.tail ?? -1, since: request.options?.since ?? '' };
    const { resolved, nodes } = this.opts.store.view((tx) => {
      const resolved = resolveSelector(tx, request.selector);
      return { resolved, nodes: nodeNames(tx, resolved.tasks) };
    });
    const subscription: Subscription = {
      id: newId(),
      options,
      serviceIds: resolved.serviceIds,
      subscriber,
      tasks: new Set(),
      open: new Map(),
    };
    this.subscriptions.set(subscription.id, subscription);
    this.opts.logger.debug({ subscription: subscription.id, tasks: resolved.tasks.length, follow: options.follow }, 'logbroker: subscribed');
    this.ask(subscription, resolved.tasks, nodes, options);
    this.endIfDone(subscription);
    return () => this.unsubscribe(subscription);
  }

  /**
   * Lines a node published. Only the node asked may answer a publication, and only about the
   * tasks it was asked for. Returns false when the subscriber is slow: `resume` is called once it
   * has caught up.
   */
  publish(nodeId: string, request: PublishLogsRequest, resume: () => void): boolean {
    const publication = this.publications.get(request.subscriptionId);
    if (!publication || publication.nodeId !== nodeId) return true;
    const { subscription } = publication;
    const messages = request.messages.filter((m) => publication.tasks.has(m.taskId)).map((m) => ({ ...m, nodeId }));
    const warnings = request.error ? [this.warning(nodeId, request.error)] : [];
    let more = true;
    if (messages.length > 0 || warnings.length > 0) more = subscription.subscriber.write({ messages, warnings });
    if (!more) subscription.subscriber.onDrain(resume);
    if (request.close) this.done(publication);
    return more;
  }

  /** A node's PublishLogs call ended (or broke): a publication it did not close is done, with a warning. */
  publicationEnded(nodeId: string, publicationIds: Iterable<string>): void {
    for (const id of publicationIds) {
      const publication = this.publications.get(id);
      if (publication && publication.nodeId === nodeId) this.done(publication, 'the node stopped sending logs');
    }
  }

  private unsubscribe(subscription: Subscription): void {
    if (this.subscriptions.get(subscription.id) !== subscription) return;
    this.subscriptions.delete(subscription.id);
    for (const publication of subscription.open.values()) {
      this.publications.delete(publication.id);
      this.sessions?.pushLogSubscription(publication.nodeId, { id: publication.id, taskIds: [], options: undefined, cancelled: true });
    }
    subscription.open.clear();
    this.opts.logger.debug({ subscription: subscription.id }, 'logbroker: subscriber gone');
  }

  /** Asks each node for its part of `tasks`; a node that cannot answer is a warning. */
  private ask(subscription: Subscription, tasks: readonly Task[], nodes: Map<string, NodeView>, options: LogOptions): void {
    const byNode = new Map<string, string[]>();
    for (const task of tasks) {
      const id = task.meta!.id;
      if (subscription.tasks.has(id)) continue;
      subscription.tasks.add(id);
      byNode.set(task.nodeId, [...(byNode.get(task.nodeId) ?? []), id]);
    }
    const warnings: string[] = [];
    for (const [nodeId, taskIds] of byNode) {
      const node = nodes.get(nodeId);
      const unable = node === undefined ? 'node is gone' : node.down ? 'node is down' : undefined;
      if (unable) {
        warnings.push(this.warning(nodeId, unable, node?.hostname));
        continue;
      }
      const publication: Publication = { id: `${subscription.id}.${newId()}`, subscription, nodeId, tasks: new Set(taskIds) };
      if (!this.sessions?.pushLogSubscription(nodeId, { id: publication.id, taskIds, options, cancelled: false })) {
        warnings.push(this.warning(nodeId, 'node is not connected', node?.hostname));
        continue;
      }
      subscription.open.set(publication.id, publication);
      this.publications.set(publication.id, publication);
    }
    if (warnings.length > 0) subscription.subscriber.write({ messages: [], warnings });
  }

  private done(publication: Publication, why?: string): void {
    const { subscription } = publication;
    if (!this.publications.delete(publication.id)) return;
    subscription.open.delete(publication.id);
    if (why) subscription.subscriber.write({ messages: [], warnings: [this.warning(publication.nodeId, why)] });
    this.endIfDone(subscription);
  }

  private endIfDone(subscription: Subscription): void {
    if (subscription.options.follow || subscription.open.size > 0) return;
    this.subscriptions.delete(subscription.id);
    subscription.subscriber.end();
  }

  private onStoreEvents(events: readonly StoreEvent[]): void {
    if (this.subscriptions.size === 0) return;
    for (const event of events) {
      if (event.kind === 'node' && (event.action === 'delete' || event.object.status?.state === NodeState.NODE_STATE_DOWN)) {
        this.nodeLost(event.object.meta?.id ?? '', event.action === 'delete' ? 'node is gone' : 'node is down');
      } else if (event.kind === 'task' && event.action !== 'delete' && nodeHasTask(event.object)) {
        this.taskStarted(event.object);
      }
    }
  }

  /** Publications of a node that went down or left are done: nothing more will come from it. */
  private nodeLost(nodeId: string, why: string): void {
    for (const publication of [...this.publications.values()]) if (publication.nodeId === nodeId) this.done(publication, why);
  }

  /** A task a node has taken on: following subscriptions of its service ask for its logs too. */
  private taskStarted(task: Task): void {
    for (const subscription of [...this.subscriptions.values()]) {
      if (!subscription.options.follow || !subscription.serviceIds.has(task.serviceId) || subscription.tasks.has(task.meta!.id)) continue;
      const nodes = this.opts.store.view((tx) => nodeNames(tx, [task]));
      // All of a new task's log is new: none of it was sent before.
      this.ask(subscription, [task], nodes, { ...subscription.options, tail: -1 });
    }
  }

  private warning(nodeId: string, why: string, hostname?: string): string {
    const name = hostname ?? this.opts.store.view((tx) => tx.nodes.get(nodeId)?.description?.hostname) ?? nodeId;
    return `error from node ${name || nodeId}: ${why}`;
  }
}

interface NodeView {
  hostname: string;
  down: boolean;
}

function nodeNames(tx: ReadTx, tasks: readonly Task[]): Map<string, NodeView> {
  const nodes = new Map<string, NodeView>();
  for (const task of tasks) {
    const node = tx.nodes.get(task.nodeId);
    if (node) nodes.set(task.nodeId, { hostname: node.description?.hostname ?? '', down: node.status?.state === NodeState.NODE_STATE_DOWN });
  }
  return nodes;
}
