/**
 * `shoal service logs` and `shoal task logs`: the containers' lines, streamed from the workers
 * through the managers (Control.SubscribeLogs), each prefixed with its task as docker prints them:
 * `web.1.3m4x1u0ocq7l@worker-1    | text` (the slot padded to the widest replica number, the
 * timestamp in front with --timestamps). stdout lines go to stdout, stderr lines to stderr, and a
 * node that cannot answer to stderr as one warning line. With --follow, a stream the managers
 * break off (the leader changed) is opened again where it stopped (`LogResume`).
 */
import { status } from '@grpc/grpc-js';
import type { SubscribeLogsMessage } from '../../proto/gen/control.js';
import { LogStream, type LogMessage, type LogOptions, type LogSelector } from '../../proto/gen/logs.js';
import type { Service } from '../../proto/gen/objects.js';
import { timeNanos } from '../../src/common/rfc3339.js';
import { ApiError, type ControlApi } from './client.js';
import type { CommandContext } from './command.js';
import { UsageError } from './errors.js';
import type { FlagSpec } from './flags.js';
import { parseDuration } from './units.js';

export const logsFlags: readonly FlagSpec[] = [
  { name: 'follow', short: 'f', kind: 'bool', help: 'Follow log output' },
  { name: 'tail', kind: 'string', value: 'string', help: 'Number of lines to show from the end of the logs (default "all")' },
  { name: 'since', kind: 'string', value: 'string', help: 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)' },
  { name: 'timestamps', short: 't', kind: 'bool', help: 'Show timestamps' },
  { name: 'no-task-ids', kind: 'bool', help: 'Do not include task IDs in output' },
  { name: 'no-trunc', kind: 'bool', help: 'Do not truncate output' },
];

/** --follow, --tail and --since as the manager takes them; `nowMs` turns a relative --since into a time. */
export function logOptionsFrom(ctx: Pick<CommandContext, 'flags'>, nowMs: number): LogOptions {
  const tail = ctx.flags.string('tail') ?? 'all';
  if (tail !== 'all' && !/^\d+$/.test(tail)) throw new UsageError(`invalid --tail "${tail}": use a number of lines or all`);
  return { follow: ctx.flags.bool('follow'), tail: tail === 'all' ? -1 : Number(tail), since: sinceTime(ctx.flags.string('since'), nowMs) };
}

/** An RFC 3339 time as given, or a duration before now (`10m`, `1h30m`) as one; '' when unset. */
export function sinceTime(text: string | undefined, nowMs: number): string {
  if (text === undefined || text === '') return '';
  if (timeNanos(text) !== undefined) return text;
  try {
    return new Date(nowMs - parseDuration(text)).toISOString();
  } catch {
    throw new UsageError(`invalid --since "${text}": use an RFC 3339 time (2013-01-02T13:23:37Z) or a duration (10m, 1h30m)`);
  }
}

export interface PrefixOptions {
  taskIds: boolean;
  noTrunc: boolean;
}

/**
 * Each task's prefix, as docker's: service name, slot (a global service's task: its node id),
 * task id (12 characters unless --no-trunc; none with --no-task-ids), `@` the node's hostname, and
 * spaces so that slots of different widths line up. Names are looked up once per service and node.
 */
export class LogPrefixer {
  private readonly services = new Map<string, Promise<Service | undefined>>();
  private hostnames: Promise<Map<string, string>> | undefined;

  constructor(
    private readonly api: Pick<ControlApi, 'getService' | 'listNodes'>,
    private readonly options: PrefixOptions,
  ) {}

  async prefix(message: LogMessage): Promise<string> {
    const service = await this.service(message.serviceId);
    const host = await this.hostname(message.nodeId);
    return taskPrefix(message, service, host, this.options);
  }

  private service(id: string): Promise<Service | undefined> {
    let found = this.services.get(id);
    if (!found) {
      // A service removed while its logs are read still has a name worth showing: its id.
      found = this.api.getService(id).catch(() => undefined);
      this.services.set(id, found);
    }
    return found;
  }

  private async hostname(nodeId: string): Promise<string> {
    this.hostnames ??= this.loadHostnames();
    let known = await this.hostnames;
    if (!known.has(nodeId)) {
      // A node that joined since the list was read.
      this.hostnames = this.loadHostnames();
      known = await this.hostnames;
    }
    return known.get(nodeId) || nodeId;
  }

  private async loadHostnames(): Promise<Map<string, string>> {
    const { nodes } = await this.api.listNodes();
    return new Map(nodes.map((n) => [n.meta?.id ?? '', n.description?.hostname ?? '']));
  }
}

export function taskPrefix(message: Pick<LogMessage, 'taskId' | 'serviceId' | 'nodeId' | 'slot'>, service: Service | undefined, hostname: string, options: PrefixOptions): string {
  const name = service?.spec?.annotations?.name || message.serviceId;
  const key = message.slot > 0 ? String(message.slot) : message.nodeId;
  const id = options.taskIds ? `.${options.noTrunc ? message.taskId : message.taskId.slice(0, 12)}` : '';
  const mode = service?.spec?.mode;
  const width = mode?.$case === 'replicated' ? String(mode.replicated.replicas).length : 0;
  const padding = message.slot > 0 ? ' '.repeat(Math.max(0, width - key.length)) : '';
  return `${name}.${key}${id}@${hostname}${padding}`;
}

/** One output line: [time ]prefix    | text (a newline added to a piece of a long line). */
export function formatLogLine(prefix: string, message: Pick<LogMessage, 'time' | 'data'>, timestamps: boolean): string {
  const text = message.data.toString('utf8');
  return `${timestamps ? `${message.time} ` : ''}${prefix}    | ${text}${text.endsWith('\n') ? '' : '\n'}`;
}

/** The newest line printed of one task: its time, and the lines printed at that very time. */
interface TaskMark {
  time: string;
  nanos: bigint;
  lines: Set<string>;
}

/**
 * Where a followed stream got to, so that one opened again after the managers broke it off (a new
 * leader: the old one's broker ends its subscriptions) neither repeats nor loses a line. Each
 * task's lines come in the order it wrote them, while different tasks' interleave as their nodes
 * send them; so the mark is per task: the new stream asks for the lines since the oldest of the
 * tasks' newest times (the workers' `since` includes it, and no tail), and of each task skips what
 * is older than its newest line printed, and the lines of that very nanosecond it printed already.
 */
export class LogResume {
  private readonly marks = new Map<string, TaskMark>();

  /** Whether the line is new (and then counts as printed). */
  admit(line: Pick<LogMessage, 'taskId' | 'stream' | 'time' | 'data'>): boolean {
    const nanos = timeNanos(line.time);
    // A line with no time cannot be placed; printed as it comes, as without a resume.
    if (nanos === undefined) return true;
    const key = `${line.stream} ${line.data.toString('base64')}`;
    const mark = this.marks.get(line.taskId);
    if (mark === undefined || nanos > mark.nanos) {
      this.marks.set(line.taskId, { time: line.time, nanos, lines: new Set([key]) });
      return true;
    }
    if (nanos < mark.nanos || mark.lines.has(key)) return false;
    mark.lines.add(key);
    return true;
  }

  /** The options to open the stream again with. */
  resumeOptions(original: LogOptions): LogOptions {
    let oldest: TaskMark | undefined;
    for (const mark of this.marks.values()) if (oldest === undefined || mark.nanos < oldest.nanos) oldest = mark;
    return oldest === undefined ? original : { ...original, tail: -1, since: oldest.time };
  }
}

/** How long a followed stream keeps trying to reach a new leader, and how often. */
const FOLLOW_RETRY_MS = 500;
const FOLLOW_RETRY_FOR_MS = 60_000;

/**
 * Subscribes and prints until the manager ends the stream (every node sent what it has) or, with
 * --follow, until the user interrupts. Lines are printed in the order they arrive. Following goes
 * on across a change of leader: the stream is opened again, through the same manager, where it
 * stopped.
 */
export async function printLogs(ctx: CommandContext, selector: LogSelector): Promise<number> {
  const options = logOptionsFrom(ctx, ctx.io.now());
  const timestamps = ctx.flags.bool('timestamps');
  const api = ctx.api();
  const prefixer = new LogPrefixer(api, { taskIds: !ctx.flags.bool('no-task-ids'), noTrunc: ctx.flags.bool('no-trunc') });
  const resume = new LogResume();
  let printed = Promise.resolve();
  const print = async (message: SubscribeLogsMessage): Promise<void> => {
    for (const warning of message.warnings) ctx.io.err.write(`${warning}\n`);
    for (const line of message.messages) {
      if (!resume.admit(line)) continue;
      const out = line.stream === LogStream.LOG_STREAM_STDERR ? ctx.io.err : ctx.io.out;
      out.write(formatLogLine(await prefixer.prefix(line), line, timestamps));
    }
  };
  let interrupted = false;
  let current: { cancel(): void } | undefined;
  if (options.follow) {
    void ctx.io.interrupted().then(() => {
      interrupted = true;
      current?.cancel();
    });
  }
  let retryingSince: number | undefined;
  for (;;) {
    const subscription = api.subscribeLogs({ selector, options: resume.resumeOptions(options) }, (message) => {
      retryingSince = undefined;
      printed = printed.then(() => print(message));
    });
    current = subscription;
    try {
      await subscription.done;
      await printed;
      return 0;
    } catch (error) {
      await printed;
      const now = ctx.io.now();
      retryingSince ??= now;
      const noLeader = error instanceof ApiError && error.code === status.UNAVAILABLE;
      if (!options.follow || interrupted || !noLeader || now - retryingSince >= FOLLOW_RETRY_FOR_MS) throw error;
      await ctx.io.sleep(FOLLOW_RETRY_MS);
      if (interrupted) return 0;
    }
  }
}
