/**
 * `shoal task ...`: inspect, logs, ls. Docker has no task group (it inspects tasks with `docker
 * inspect`, and reads their logs with `docker service logs TASK`); shoal gives tasks one, named as
 * issue 6 asks (`shoal task inspect`, `shoal task logs`).
 */
import { status } from '@grpc/grpc-js';
import { Task } from '../../proto/gen/objects.js';
import { ApiError, type ControlApi } from './client.js';
import { forEachArg, type Command, type CommandGroup } from './command.js';
import { UsageError } from './errors.js';
import { logsFlags, printLogs } from './logs.js';
import { formatFlag, noTruncFlag, outputFormat, quietFlag, toJsonText } from './output.js';
import { prettyTask } from './pretty.js';
import { printTasks } from './service.js';
import { parseTaskFilters, taskFilterFlag, type TaskFilterKey } from './task-filter.js';
import { nodeHostname } from './task-view.js';

/** `web.3` (replicated) or `web.NODEID` (global): a task's name as `service ps` shows it. */
const TASK_NAME = /^(.+)\.([^.]+)$/;

/**
 * A task by full id, unique id prefix, or name (`web.3`, `web.NODEID`): a name stands for the newest
 * task of that slot, the one `service ps` lists first.
 */
export async function findTask(api: ControlApi, ref: string): Promise<Task> {
  try {
    return await api.getTask(ref);
  } catch (error) {
    const name = TASK_NAME.exec(ref);
    if (!(error instanceof ApiError) || error.code !== status.NOT_FOUND || name === null) throw error;
    const service = await api.getService(name[1]!).catch((lookup: unknown) => {
      // No such service either: the manager's answer about the task is the one to give.
      throw lookup instanceof ApiError && lookup.code === status.NOT_FOUND ? error : lookup;
    });
    const newest = (await api.listTasks({ serviceIds: [service.meta!.id] }))
      .filter((t) => nameKey(t) === name[2])
      .sort((a, b) => (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0))[0];
    if (newest === undefined) throw error;
    return newest;
  }
}

/** The part of a task's name after the service: its slot, or its node for a global service. */
function nameKey(task: Task): string {
  return task.slot > 0 ? String(task.slot) : task.nodeId;
}

const inspect: Command = {
  name: 'inspect',
  usage: '[OPTIONS] TASK [TASK...]',
  summary: 'Display detailed information on one or more tasks (by id, id prefix or name such as web.1)',
  flags: [
    { name: 'pretty', kind: 'bool', help: 'Print the information in a human friendly format' },
    { name: 'format', kind: 'string', value: 'string', help: 'Output format: json (default)' },
  ],
  minArgs: 1,
  remote: true,
  async run(ctx) {
    const format = ctx.flags.string('format');
    if (format !== undefined && format !== 'json') throw new UsageError(`invalid --format "${format}": use json, or --pretty for a readable form`);
    const pretty = ctx.flags.bool('pretty');
    if (pretty && format !== undefined) throw new UsageError('--pretty and --format cannot be used together');
    const api = ctx.api();
    const found: Task[] = [];
    const code = await forEachArg(ctx, async (ref) => void found.push(await findTask(api, ref)));
    if (!pretty) {
      ctx.io.out.write(toJsonText(found.map((t) => Task.toJSON(t))));
      return code;
    }
    const hostnames = found.length === 0 ? new Map<string, string>() : new Map((await api.listNodes()).nodes.map((n) => [n.meta!.id, nodeHostname(n)]));
    ctx.io.out.write(found.map((t) => prettyTask(t, hostnames.get(t.nodeId) ?? '', ctx.io.now())).join('\n'));
    return code;
  },
};

const logs: Command = {
  name: 'logs',
  usage: '[OPTIONS] TASK',
  summary: 'Fetch the logs of a task (by id, id prefix or name such as web.1)',
  flags: logsFlags,
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const task = await findTask(ctx.api(), ctx.args[0]!);
    return printLogs(ctx, { serviceIds: [], taskIds: [task.meta!.id] });
  },
};

const taskListFilterKeys: readonly TaskFilterKey[] = ['desired-state', 'id', 'name', 'node', 'service'];

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: 'List the tasks of the cluster, placed or not',
  flags: [taskFilterFlag(taskListFilterKeys), noTruncFlag, quietFlag, formatFlag],
  minArgs: 0,
  maxArgs: 0,
  remote: true,
  async run(ctx) {
    const format = outputFormat(ctx.flags);
    const filters = parseTaskFilters(ctx.flags.list('filter'), taskListFilterKeys);
    const api = ctx.api();
    const [tasks, nodes] = await Promise.all([api.listTasks(filters.request), api.listNodes()]);
    printTasks(ctx, tasks.filter(filters.matches), nodes.nodes, format);
    return 0;
  },
};

export const taskGroup: CommandGroup = {
  name: 'task',
  summary: 'Manage tasks',
  commands: [inspect, logs, ls],
};
