/**
 * `shoal stack ...`: deploy a compose-format file as services named STACK_SERVICE (and the networks
 * they use, STACK_NETWORK), and list or remove them.
 */
import { readFileSync } from 'node:fs';
import type { ListServicesResponse } from '../../proto/gen/control.js';
import { sameServiceSpec } from '../../src/manager/controlapi/spec-equality.js';
import { status } from '@grpc/grpc-js';
import { ApiError, type ControlApi } from './client.js';
import type { Command, CommandContext, CommandGroup } from './command.js';
import { parseStackFile, STACK_NAMESPACE_LABEL, type StackNetwork } from './compose.js';
import { CliError, UsageError } from './errors.js';
import { formatFlag, noTruncFlag, outputFormat, quietFlag, toJsonText } from './output.js';
import { printServices, printTasks, serviceTaskFilterKeys } from './service.js';
import { updateServiceSpec } from './service-actions.js';
import { renderTable } from './table.js';
import { parseTaskFilters, taskFilterFlag } from './task-filter.js';
import { serviceName } from './task-view.js';

function stackServices(api: ControlApi, stack: string): Promise<ListServicesResponse> {
  return api.listServices({ labels: { [STACK_NAMESPACE_LABEL]: stack } });
}

const deploy: Command = {
  name: 'deploy',
  usage: '[OPTIONS] STACK',
  summary: 'Deploy a new stack or update an existing stack',
  flags: [
    { name: 'compose-file', short: 'c', kind: 'string', value: 'path', help: 'Path to a Compose file' },
    { name: 'prune', kind: 'bool', help: 'Remove services of the stack that the file no longer names' },
  ],
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const stack = ctx.args[0]!;
    const file = ctx.flags.string('compose-file');
    if (file === undefined) throw new UsageError('requires a stack file: --compose-file FILE');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read stack file ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    // The whole file is converted and validated before anything is written.
    const desired = parseStackFile(text, { stack, env: ctx.io.env, file });
    const api = ctx.api();
    const networkIds = await deployNetworks(ctx, desired.networks);
    const existing = new Map((await stackServices(api, stack)).services.map((s) => [serviceName(s), s]));

    for (const { spec: parsed } of desired.services) {
      const name = parsed.annotations!.name;
      const current = existing.get(name);
      const networks = parsed.task!.networks.map((n) => ({ ...n, target: networkIds.get(n.target)! }));
      // A file has no --force: keep the service's force counter, or a redeploy would replace its tasks.
      const fileSpec = { ...parsed, task: { ...parsed.task!, networks } };
      const spec = current === undefined ? fileSpec : { ...fileSpec, task: { ...fileSpec.task, forceUpdate: current.spec?.task?.forceUpdate ?? 0 } };
      if (current === undefined) {
        ctx.io.out.write(`Creating service ${name}\n`);
        await api.createService(spec);
      } else if (sameServiceSpec(current.spec!, spec)) {
        ctx.io.out.write(`Service ${name} is unchanged\n`);
      } else {
        ctx.io.out.write(`Updating service ${name} (id: ${current.meta!.id})\n`);
        await updateServiceSpec(api, current.meta!.id, () => spec);
      }
    }
    if (ctx.flags.bool('prune')) {
      const named = new Set(desired.services.map((d) => d.spec.annotations!.name));
      for (const [name, service] of existing) {
        if (named.has(name)) continue;
        ctx.io.out.write(`Removing service ${name}\n`);
        await api.removeService(service.meta!.id);
      }
    }
    return 0;
  },
};

/**
 * Creates the stack's networks that do not exist yet (an existing one is kept as it is, as docker
 * does) and checks that the external ones exist; returns every network's id by name.
 */
async function deployNetworks(ctx: CommandContext, networks: readonly StackNetwork[]): Promise<Map<string, string>> {
  const api = ctx.api();
  const ids = new Map<string, string>();
  if (networks.length === 0) return ids;
  const existing = new Map((await api.listNetworks({ names: networks.map((n) => n.name) })).map((n) => [n.spec?.annotations?.name ?? '', n]));
  for (const network of networks) {
    const found = existing.get(network.name);
    if (found !== undefined) {
      ids.set(network.name, found.meta!.id);
    } else if (network.spec === undefined) {
      throw new CliError(`network "${network.name}" is declared as external, but could not be found: create it first with 'shoal network create ${network.name}'`);
    } else {
      ctx.io.out.write(`Creating network ${network.name}\n`);
      ids.set(network.name, (await api.createNetwork(network.spec)).meta!.id);
    }
  }
  return ids;
}

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: 'List stacks',
  flags: [formatFlag],
  minArgs: 0,
  maxArgs: 0,
  remote: true,
  async run(ctx) {
    const format = outputFormat(ctx.flags);
    const counts = new Map<string, number>();
    for (const service of (await ctx.api().listServices({ labels: { [STACK_NAMESPACE_LABEL]: '' } })).services) {
      const stack = service.spec?.annotations?.labels[STACK_NAMESPACE_LABEL] ?? '';
      counts.set(stack, (counts.get(stack) ?? 0) + 1);
    }
    const stacks = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (format === 'json') ctx.io.out.write(toJsonText(stacks.map(([name, services]) => ({ name, services }))));
    else ctx.io.out.write(renderTable(['NAME', 'SERVICES'], stacks.map(([name, n]) => [name, String(n)])));
    return 0;
  },
};

async function requireStack(ctx: CommandContext, stack: string): Promise<ListServicesResponse> {
  const list = await stackServices(ctx.api(), stack);
  if (list.services.length === 0) throw new CliError(`nothing found in stack: ${stack}`);
  return list;
}

const services: Command = {
  name: 'services',
  usage: '[OPTIONS] STACK',
  summary: 'List the services in the stack',
  flags: [quietFlag, formatFlag],
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    printServices(ctx, await requireStack(ctx, ctx.args[0]!));
    return 0;
  },
};

const ps: Command = {
  name: 'ps',
  usage: '[OPTIONS] STACK',
  summary: 'List the tasks in the stack',
  flags: [
    taskFilterFlag(serviceTaskFilterKeys),
    noTruncFlag,
    quietFlag,
    formatFlag,
  ],
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const format = outputFormat(ctx.flags);
    const filters = parseTaskFilters(ctx.flags.list('filter'), serviceTaskFilterKeys);
    const list = await requireStack(ctx, ctx.args[0]!);
    const api = ctx.api();
    const [tasks, nodes] = await Promise.all([api.listTasks({ ...filters.request, serviceIds: list.services.map((s) => s.meta!.id) }), api.listNodes()]);
    printTasks(ctx, tasks.filter(filters.matches), nodes.nodes, format);
    return 0;
  },
};

const rm: Command = {
  name: 'rm',
  aliases: ['remove', 'down'],
  usage: 'STACK [STACK...]',
  summary: 'Remove one or more stacks',
  flags: [],
  minArgs: 1,
  remote: true,
  async run(ctx) {
    const api = ctx.api();
    let failed = false;
    for (const stack of ctx.args) {
      const list = await stackServices(api, stack);
      // Only networks the stack created carry its label; external ones are left alone.
      const networks = (await api.listNetworks()).filter((n) => n.spec?.annotations?.labels[STACK_NAMESPACE_LABEL] === stack);
      if (list.services.length === 0 && networks.length === 0) {
        ctx.io.err.write(`Nothing found in stack: ${stack}\n`);
        continue;
      }
      for (const service of list.services) {
        ctx.io.out.write(`Removing service ${serviceName(service)}\n`);
        await api.removeService(service.meta!.id);
      }
      // After the services that used them, once their tasks are gone (a task holds its addresses
      // until then); a refusal is reported and the rest still removed, as docker does.
      if (networks.length > 0) await tasksGone(ctx, list.services.map((s) => s.meta!.id));
      for (const network of networks) {
        const name = network.spec!.annotations!.name;
        ctx.io.out.write(`Removing network ${name}\n`);
        try {
          await api.removeNetwork(network.meta!.id);
        } catch (error) {
          if (!(error instanceof CliError)) throw error;
          ctx.io.err.write(`Failed to remove network ${name}: ${error.message}\n`);
          failed = true;
        }
      }
    }
    return failed ? 1 : 0;
  },
};

/** How long `stack rm` waits for the removed services' tasks to stop and be deleted before it removes the networks. */
const TASKS_GONE_TIMEOUT_MS = 60_000;
const TASKS_GONE_POLL_MS = 200;

/**
 * Waits until the managers have deleted every task of the given (removed) services: stopped on
 * their nodes, then reaped. Gives up quietly after TASKS_GONE_TIMEOUT_MS; the network removal then
 * says what still holds it.
 */
async function tasksGone(ctx: CommandContext, serviceIds: string[]): Promise<void> {
  const api = ctx.api();
  const deadline = ctx.io.now() + TASKS_GONE_TIMEOUT_MS;
  for (const id of serviceIds) {
    while (ctx.io.now() < deadline) {
      try {
        if ((await api.listTasks({ serviceIds: [id] })).length === 0) break;
      } catch (error) {
        // A removed service's id names nothing once its last task is deleted.
        if (error instanceof ApiError && error.code === status.NOT_FOUND) break;
        throw error;
      }
      await ctx.io.sleep(TASKS_GONE_POLL_MS);
    }
  }
}

export const stackGroup: CommandGroup = {
  name: 'stack',
  summary: 'Manage stacks',
  commands: [deploy, ls, ps, rm, services],
};
