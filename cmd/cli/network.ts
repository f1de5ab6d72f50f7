/** `shoal network ...`: create, inspect, ls, rm overlay networks, as `docker network` does in a swarm. */
import { Network, type NetworkSpec } from '../../proto/gen/objects.js';
import { AddressError, parseSubnet } from '../../src/common/ipv4.js';
import type { ControlApi } from './client.js';
import { forEachArg, type Command, type CommandGroup } from './command.js';
import { UsageError } from './errors.js';
import { parseKeyValues } from './flag-values.js';
import { formatFlag, noTruncFlag, outputFormat, quietFlag, toJsonText } from './output.js';
import { renderTable, shortId } from './table.js';

/** Overlay is shoal's only network driver, and a swarm's networks are all of swarm scope. */
const DRIVER = 'overlay';
const SCOPE = 'swarm';

const create: Command = {
  name: 'create',
  usage: '[OPTIONS] NETWORK',
  summary: 'Create a network',
  flags: [
    { name: 'driver', short: 'd', kind: 'string', value: 'string', help: 'Driver to manage the Network (only "overlay") (default "overlay")' },
    { name: 'subnet', kind: 'string', value: 'string', help: 'Subnet in CIDR format (default: one from the cluster\'s address pool)' },
    { name: 'attachable', kind: 'bool', help: 'Enable manual container attachment' },
    { name: 'label', kind: 'list', value: 'list', help: 'Set metadata on a network' },
  ],
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const driver = ctx.flags.string('driver') ?? DRIVER;
    if (driver !== DRIVER) throw new UsageError(`invalid value "${driver}" for --driver: shoal networks use the overlay driver only`);
    const subnet = ctx.flags.string('subnet') ?? '';
    if (subnet !== '') {
      try {
        parseSubnet(subnet);
      } catch (error) {
        if (error instanceof AddressError) throw new UsageError(`invalid value for --subnet: ${error.message}`);
        throw error;
      }
    }
    const spec: NetworkSpec = {
      annotations: { name: ctx.args[0]!, labels: parseKeyValues(ctx.flags.list('label'), 'label') },
      driver,
      subnet,
      attachable: ctx.flags.bool('attachable'),
      ingress: false,
    };
    const network = await ctx.api().createNetwork(spec);
    ctx.io.out.write(`${network.meta!.id}\n`);
    return 0;
  },
};

const inspect: Command = {
  name: 'inspect',
  usage: 'NETWORK [NETWORK...]',
  summary: 'Display detailed information on one or more networks',
  flags: [],
  minArgs: 1,
  remote: true,
  async run(ctx) {
    const found: Network[] = [];
    const code = await forEachArg(ctx, async (ref) => void found.push(await ctx.api().getNetwork(ref)));
    ctx.io.out.write(toJsonText(found.map((n) => Network.toJSON(n))));
    return code;
  },
};

type NetworkFilterKey = 'driver' | 'id' | 'label' | 'name';
const networkFilterKeys: readonly NetworkFilterKey[] = ['driver', 'id', 'label', 'name'];

/** docker's network filters: a name or id matches on any part of it; values of one key are alternatives, keys must all match. */
function parseNetworkFilters(filters: readonly string[]): (network: Network) => boolean {
  const wanted = new Map<NetworkFilterKey, string[]>();
  for (const filter of filters) {
    const eq = filter.indexOf('=');
    const key = filter.slice(0, Math.max(eq, 0));
    const value = filter.slice(eq + 1);
    if (eq <= 0 || value === '') throw new UsageError(`invalid filter "${filter}": use KEY=VALUE`);
    if (!(networkFilterKeys as readonly string[]).includes(key)) throw new UsageError(`invalid filter "${filter}": the filters are ${networkFilterKeys.join(', ')}`);
    wanted.set(key as NetworkFilterKey, [...(wanted.get(key as NetworkFilterKey) ?? []), value]);
  }
  const test = (key: NetworkFilterKey, value: string, network: Network): boolean => {
    const spec = network.spec;
    switch (key) {
      case 'driver':
        return (spec?.driver || DRIVER) === value;
      case 'id':
        return network.meta!.id.includes(value);
      case 'name':
        return (spec?.annotations?.name ?? '').includes(value);
      case 'label': {
        const eq = value.indexOf('=');
        const labels = spec?.annotations?.labels ?? {};
        return eq < 0 ? Object.hasOwn(labels, value) : labels[value.slice(0, eq)] === value.slice(eq + 1);
      }
    }
  };
  return (network) => [...wanted].every(([key, values]) => values.some((value) => test(key, value, network)));
}

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: 'List networks',
  flags: [
    { name: 'filter', short: 'f', kind: 'list', value: 'filter', help: 'Provide filter values (driver=DRIVER, id=ID, label=KEY[=VALUE], name=NAME)' },
    formatFlag,
    noTruncFlag,
    quietFlag,
  ],
  minArgs: 0,
  maxArgs: 0,
  remote: true,
  async run(ctx) {
    const format = outputFormat(ctx.flags);
    const matches = parseNetworkFilters(ctx.flags.list('filter'));
    const name = (n: Network) => n.spec?.annotations?.name ?? '';
    const networks = (await ctx.api().listNetworks()).filter(matches).sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
    if (ctx.flags.bool('quiet')) ctx.io.out.write(networks.map((n) => `${n.meta!.id}\n`).join(''));
    else if (format === 'json') ctx.io.out.write(toJsonText(networks.map((n) => Network.toJSON(n))));
    else {
      const noTrunc = ctx.flags.bool('no-trunc');
      const rows = networks.map((n) => [shortId(n.meta!.id, noTrunc), name(n), n.spec?.driver || DRIVER, SCOPE]);
      ctx.io.out.write(renderTable(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], rows));
    }
    return 0;
  },
};

const rm: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'NETWORK [NETWORK...]',
  summary: 'Remove one or more networks',
  flags: [],
  minArgs: 1,
  remote: true,
  run(ctx) {
    return forEachArg(ctx, async (ref) => {
      await ctx.api().removeNetwork(ref);
      ctx.io.out.write(`${ref}\n`);
    });
  },
};

export const networkGroup: CommandGroup = {
  name: 'network',
  summary: 'Manage networks',
  commands: [create, inspect, ls, rm],
};

/** The id of each network named (by name, id or id prefix), as a service spec stores them; one lookup each. */
export async function resolveNetworks(api: ControlApi, refs: readonly string[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const ref of refs) ids.set(ref, (await api.getNetwork(ref)).meta!.id);
  return ids;
}

/** Network names by id, for showing a spec's attachments (an id that is gone stays an id). */
export async function networkNames(api: ControlApi): Promise<Map<string, string>> {
  return new Map((await api.listNetworks()).map((n) => [n.meta!.id, n.spec?.annotations?.name ?? n.meta!.id]));
}
