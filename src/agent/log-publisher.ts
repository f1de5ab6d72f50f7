/**
 * The node's side of log subscriptions (proto/dispatcher.proto): a session message names a
 * subscription and the node's tasks it wants; for each, the executor's log of every named task is
 * read (executor.logs) and sent in batches on one PublishLogs stream, then, unless the subscription
 * follows, `close`. A cancelled subscription, or the session going away, aborts the readers and
 * ends the stream.
 *
 * Memory stays bounded: a batch is sent once it is full (or a moment after its first line, so a
 * followed log is not held back), and while the stream cannot take more (gRPC asks to wait for
 * 'drain') no reader is pulled any further.
 */
import type { LogSubscription, PublishLogsRequest } from '../../proto/gen/dispatcher.js';
import { LogStream, type LogMessage } from '../../proto/gen/logs.js';
import type { Task } from '../../proto/gen/objects.js';
import type { Logger } from '../common/logger.js';
import type { LogEntry } from '../runtime/container/logs.js';
import type { Executor } from './executor.js';

/** What the publisher needs of a PublishLogs call (grpc's ClientWritableStream is one). */
export interface LogSink {
  /** false: wait for 'drain' before writing more. */
  write(request: PublishLogsRequest): boolean;
  once(event: 'drain', listener: () => void): unknown;
  end(): void;
  cancel(): void;
}

export interface LogPublisherOptions {
  executor: Executor;
  /** The task with this id, if this node has it. */
  task(taskId: string): Task | undefined;
  nodeId(): string;
  /**
   * Opens a PublishLogs call on the live session (undefined while there is none); `failed` is
   * called if the manager ends it with an error.
   */
  open(failed: (err: Error) => void): { sessionId: string; sink: LogSink } | undefined;
  logger: Logger;
  /** Lines per batch at most. Default 128. */
  batchLines?: number;
  /** Bytes of text per batch at most (a line may overshoot it once). Default 64 KiB. */
  batchBytes?: number;
  /** How long a batch that is not full waits for more lines. Default 20 ms. */
  flushMs?: number;
}

export class LogPublisher {
  /** The subscriptions being answered, by id. */
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly opts: LogPublisherOptions) {}

  /** A subscription from a session message: start answering it, or stop if it is cancelled. */
  handle(subscription: LogSubscription): void {
    if (subscription.cancelled) {
      this.running.get(subscription.id)?.abort();
      return;
    }
    if (this.running.has(subscription.id)) return;
    const abort = new AbortController();
    const opened = this.opts.open((err) => {
      this.opts.logger.debug({ err, subscription: subscription.id }, 'agent: log publication refused');
      abort.abort();
    });
    if (!opened) return;
    this.opts.logger.info({ subscription: subscription.id, tasks: subscription.taskIds.length, follow: subscription.options?.follow ?? false }, 'agent: publishing logs');
    this.running.set(subscription.id, abort);
    void this.publish(subscription, opened.sessionId, opened.sink, abort.signal).finally(() => {
      if (this.running.get(subscription.id) === abort) this.running.delete(subscription.id);
    });
  }

  /** The session is gone (or the agent stops): every subscription ends with it. */
  stopAll(): void {
    for (const abort of this.running.values()) abort.abort();
    this.running.clear();
  }

  /** How many subscriptions are being answered. */
  get active(): number {
    return this.running.size;
  }

  private async publish(subscription: LogSubscription, sessionId: string, sink: LogSink, signal: AbortSignal): Promise<void> {
    const batch = new Batch(sink, { sessionId, subscriptionId: subscription.id }, signal, this.opts);
    const options = { follow: subscription.options?.follow ?? false, tail: subscription.options?.tail ?? -1, since: subscription.options?.since || undefined };
    await Promise.all(
      subscription.taskIds.map(async (taskId) => {
        const task = this.opts.task(taskId);
        if (!task) {
          await batch.error(`task ${taskId} is no longer on this node: it finished, and its container and log were removed`);
          return;
        }
        try {
          for await (const entry of this.opts.executor.logs(task, options, signal)) await batch.add(this.message(task, entry));
        } catch (err) {
          if (!signal.aborted) await batch.error(`task ${taskId}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );
    if (signal.aborted) {
      sink.cancel();
      return;
    }
    await batch.flush();
    sink.write({ sessionId, subscriptionId: subscription.id, messages: [], close: true, error: '' });
    sink.end();
  }

  private message(task: Task, entry: LogEntry): LogMessage {
    return {
      taskId: task.meta?.id ?? '',
      serviceId: task.serviceId,
      nodeId: this.opts.nodeId(),
      slot: task.slot,
      time: entry.time,
      stream: entry.stream === 'stderr' ? LogStream.LOG_STREAM_STDERR : LogStream.LOG_STREAM_STDOUT,
      data: Buffer.from(entry.log, 'utf8'),
    };
  }
}

/** The lines gathered for the next PublishLogs request of one subscription. */
class Batch {
  private messages: LogMessage[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Set while the stream cannot take more: nothing is added until it can. */
  private draining: Promise<void> | undefined;
  private readonly lines: number;
  private readonly maxBytes: number;
  private readonly flushMs: number;

  constructor(
    private readonly sink: LogSink,
    private readonly ids: { sessionId: string; subscriptionId: string },
    private readonly signal: AbortSignal,
    opts: Pick<LogPublisherOptions, 'batchLines' | 'batchBytes' | 'flushMs'>,
  ) {
    this.lines = opts.batchLines ?? 128;
    this.maxBytes = opts.batchBytes ?? 64 * 1024;
    this.flushMs = opts.flushMs ?? 20;
  }

  async add(message: LogMessage): Promise<void> {
    while (this.draining) await this.draining;
    this.messages.push(message);
    this.bytes += message.data.length;
    if (this.messages.length >= this.lines || this.bytes >= this.maxBytes) await this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  async error(text: string): Promise<void> {
    await this.flush();
    this.write({ ...this.ids, messages: [], close: false, error: text });
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.messages.length === 0 || this.signal.aborted) return;
    const messages = this.messages;
    this.messages = [];
    this.bytes = 0;
    this.write({ ...this.ids, messages, close: false, error: '' });
    while (this.draining) await this.draining;
  }

  private write(request: PublishLogsRequest): void {
    if (this.signal.aborted) return;
    if (this.sink.write(request) || this.draining) return;
    this.draining = new Promise<void>((resolve) => {
      const done = (): void => {
        this.signal.removeEventListener('abort', done);
        this.draining = undefined;
        resolve();
      };
      this.sink.once('drain', done);
      this.signal.addEventListener('abort', done, { once: true });
    });
  }
}
