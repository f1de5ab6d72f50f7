/** `shoal service ...`: create, inspect, logs, ls, ps, rm, rollback, scale, update. */
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { ListServicesResponse } from '../../proto/gen/control.js';
import { Service, Task, type Node } from '../../proto/gen/objects.js';
import { ApiError } from './client.js';
import { forEachArg, type Command, type CommandContext, type CommandGroup } from './command.js';
import { networkRefs } from './endpoint-options.js';
import { CliError, UsageError } from './errors.js';
import { parseUint } from './flag-values.js';
import type { FlagSpec } from './flags.js';
import { servicesTable, tasksTable } from './listings.js';
import { logsFlags, printLogs } from './logs.js';
import { networkNames, resolveNetworks } from './network.js';
import { formatFlag, noTruncFlag, outputFormat, quietFlag, toJsonText } from './output.js';
import { prettyService } from './pretty.js';
import { updateServiceSpec, waitUnlessDetached } from './service-actions.js';
import { findTask } from './task.js';
import { parseTaskFilters, taskFilterFlag, type TaskFilterKey } from './task-filter.js';
import { applyUpdateFlags, serviceCreateFlags, serviceUpdateFlags, specFromCreateFlags } from './service-options.js';

const detachFlag: FlagSpec = { name: 'detach', short: 'd', kind: 'bool', help: 'Exit immediately instead of waiting for the service to converge' };

/** --detach and --quiet as given to a command that has them. */
export function waitFlags(ctx: CommandContext): { detach: boolean; quiet: boolean } {
  return { detach: ctx.flags.bool('detach'), quiet: ctx.flags.bool('quiet') };
}

const create: Command = {
  name: 'create',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new service',
  flags: serviceCreateFlags,
  minArgs: 1,
  stopAtFirstPositional: true,
  remote: true,
  async run(ctx) {
    const networks = await resolveNetworks(ctx.api(), networkRefs(ctx.flags, 'create'));
    const spec = specFromCreateFlags(ctx.flags, ctx.args, ctx.io.env, () => randomBytes(8).readBigUInt64BE().toString(36).slice(0, 6), networks);
    const service = await ctx.api().createService(spec);
    ctx.io.out.write(`${service.meta!.id}\n`);
    return waitUnlessDetached(ctx, { service, statusBefore: undefined, ...waitFlags(ctx) });
  },
};

const inspect: Command = {
  name: 'inspect',
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'Display detailed information on one or more services',
  flags: [{ name: 'pretty', kind: 'bool', help: 'Print the information in a human friendly format' }],
  minArgs: 1,
  remote: true,
  async run(ctx) {
    const found: Service[] = [];
    const code = await forEachArg(ctx, async (ref) => void found.push(await ctx.api().getService(ref)));
    if (ctx.flags.bool('pretty')) {
      const names = found.length > 0 ? await networkNames(ctx.api()) : new Map<string, string>();
      ctx.io.out.write(found.map((s) => prettyService(s, names, ctx.io.now())).join('\n'));
    } else ctx.io.out.write(toJsonText(found.map((s) => Service.toJSON(s))));
    return code;
  },
};

const logs: Command = {
  name: 'logs',
  usage: '[OPTIONS] SERVICE|TASK',
  summary: 'Fetch the logs of a service or task',
  flags: logsFlags,
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const ref = ctx.args[0]!;
    const api = ctx.api();
    // As docker's: a service by id, name or prefix, else a task by id or name.
    const service = await api.getService(ref).catch(async (error: unknown) => {
      if (!(error instanceof ApiError) || error.code !== status.NOT_FOUND) throw error;
      await findTask(api, ref).catch(() => {
        throw error;
      });
      return undefined;
    });
    if (service) return printLogs(ctx, { serviceIds: [service.meta!.id], taskIds: [] });
    return printLogs(ctx, { serviceIds: [], taskIds: [(await findTask(api, ref)).meta!.id] });
  },
};

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: 'List services',
  flags: [quietFlag, formatFlag],
  minArgs: 0,
  maxArgs: 0,
  remote: true,
  async run(ctx) {
    printServices(ctx, await ctx.api().listServices());
    return 0;
  },
};

/** The filters of `service ps` and `stack ps`. */
export const serviceTaskFilterKeys: readonly TaskFilterKey[] = ['desired-state', 'id', 'name', 'node'];

const ps: Command = {
  name: 'ps',
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'List the tasks of one or more services',
  flags: [taskFilterFlag(serviceTaskFilterKeys), noTruncFlag, quietFlag, formatFlag],
  minArgs: 1,
  remote: true,
  async run(ctx) {
    const format = outputFormat(ctx.flags);
    const filters = parseTaskFilters(ctx.flags.list('filter'), serviceTaskFilterKeys);
    const api = ctx.api();
    const services = await Promise.all(ctx.args.map((ref) => api.getService(ref)));
    const [tasks, nodes] = await Promise.all([
      api.listTasks({ ...filters.request, serviceIds: services.map((s) => s.meta!.id) }),
      api.listNodes(),
    ]);
    printTasks(ctx, tasks.filter(filters.matches), nodes.nodes, format);
    return 0;
  },
};

/** The output of `service ls` and `stack services`. */
export function printServices(ctx: CommandContext, list: ListServicesResponse): void {
  if (ctx.flags.bool('quiet')) ctx.io.out.write(list.services.map((s) => `${s.meta!.id}\n`).join(''));
  else if (outputFormat(ctx.flags) === 'json') ctx.io.out.write(toJsonText(list.services.map((s) => Service.toJSON(s))));
  else ctx.io.out.write(servicesTable(list));
}

/** The output of the task listings: `service ps`, `stack ps`, `node ps`, `task ls`. */
export function printTasks(ctx: CommandContext, tasks: Task[], nodes: readonly Node[], format: 'table' | 'json'): void {
  if (ctx.flags.bool('quiet')) ctx.io.out.write(tasks.map((t) => `${t.meta!.id}\n`).join(''));
  else if (format === 'json') ctx.io.out.write(toJsonText(tasks.map((t) => Task.toJSON(t))));
  else ctx.io.out.write(tasksTable(tasks, nodes, ctx.io.now(), ctx.flags.bool('no-trunc')));
}

const rm: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'SERVICE [SERVICE...]',
  summary: 'Remove one or more services',
  flags: [],
  minArgs: 1,
  remote: true,
  run(ctx) {
    return forEachArg(ctx, async (ref) => {
      await ctx.api().removeService(ref);
      ctx.io.out.write(`${ref}\n`);
    });
  },
};

const update: Command = {
  name: 'update',
  usage: '[OPTIONS] SERVICE',
  summary: 'Update a service',
  flags: serviceUpdateFlags,
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const networks = await resolveNetworks(ctx.api(), networkRefs(ctx.flags, 'update'));
    const { before, after } = await updateServiceSpec(ctx.api(), ctx.args[0]!, (spec) => applyUpdateFlags(spec, ctx.flags, ctx.io.env, networks));
    ctx.io.out.write(`${ctx.args[0]}\n`);
    return waitUnlessDetached(ctx, { service: after, statusBefore: before.updateStatus, ...waitFlags(ctx) });
  },
};

const scale: Command = {
  name: 'scale',
  usage: '[OPTIONS] SERVICE=REPLICAS [SERVICE=REPLICAS...]',
  summary: 'Scale one or multiple replicated services',
  flags: [detachFlag],
  minArgs: 1,
  remote: true,
  async run(ctx) {
    const targets = ctx.args.map((arg) => {
      const eq = arg.lastIndexOf('=');
      if (eq <= 0) throw new UsageError(`invalid scale specifier "${arg}": use SERVICE=REPLICAS`);
      try {
        return { ref: arg.slice(0, eq), replicas: parseUint(arg.slice(eq + 1)) };
      } catch (error) {
        throw new UsageError(`invalid replicas value in "${arg}": ${error instanceof Error ? error.message : String(error)}`);
      }
    });
    const scaled: { ref: string; outcome: Awaited<ReturnType<typeof updateServiceSpec>> }[] = [];
    let failed = false;
    for (const { ref, replicas } of targets) {
      try {
        const outcome = await updateServiceSpec(ctx.api(), ref, (spec) => {
          if (spec.mode?.$case !== 'replicated') throw new CliError(`scale can only be used with replicated mode (service ${ref} is global)`);
          return { ...spec, mode: { $case: 'replicated', replicated: { replicas } } };
        });
        ctx.io.out.write(`${ref} scaled to ${replicas}\n`);
        scaled.push({ ref, outcome });
      } catch (error) {
        if (!(error instanceof CliError) || error instanceof UsageError) throw error;
        ctx.io.err.write(`shoal: ${error.message}\n`);
        failed = true;
      }
    }
    if (!ctx.flags.bool('detach')) {
      for (const { ref, outcome } of scaled) {
        ctx.io.out.write(`${ref}\n`);
        await waitUnlessDetached(ctx, { service: outcome.after, statusBefore: outcome.before.updateStatus, detach: false, quiet: false });
      }
    }
    return failed ? 1 : 0;
  },
};

const rollback: Command = {
  name: 'rollback',
  usage: '[OPTIONS] SERVICE',
  summary: "Revert changes to a service's configuration",
  flags: [detachFlag, { name: 'quiet', short: 'q', kind: 'bool', help: 'Suppress progress output' }],
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const api = ctx.api();
    const before = await api.getService(ctx.args[0]!);
    const after = await api.updateService({ id: before.meta!.id, version: before.meta!.version, spec: undefined, rollback: true });
    ctx.io.out.write(`${ctx.args[0]}\n`);
    return waitUnlessDetached(ctx, { service: after, statusBefore: before.updateStatus, expectRollback: true, ...waitFlags(ctx) });
  },
};

export const serviceGroup: CommandGroup = {
  name: 'service',
  summary: 'Manage services',
  commands: [create, inspect, logs, ls, ps, rm, rollback, scale, update],
};
