/** `shoal node ...`: inspect, ls, ps, rm, update, promote, demote. */
import { status } from '@grpc/grpc-js';
import { ManagerStatus } from '../../proto/gen/control.js';
import { Node, NodeAvailability, NodeRole, NodeSpec } from '../../proto/gen/objects.js';
import { ApiError, type ControlApi, type NodeDetails } from './client.js';
import { forEachArg, type Command, type CommandGroup } from './command.js';
import { UsageError } from './errors.js';
import { choiceFlag, parseKeyValues } from './flag-values.js';
import { formatFlag, noTruncFlag, outputFormat, quietFlag, toJsonText } from './output.js';
import { prettyNode } from './pretty.js';
import { printTasks } from './service.js';
import { renderTable, shortId } from './table.js';
import { parseTaskFilters, taskFilterFlag, type TaskFilterKey } from './task-filter.js';
import { availabilityTitle, nodeHostname, nodeStateTitle } from './task-view.js';

/** The MANAGER STATUS column: Leader, Reachable or Unreachable; empty for a worker. */
function managerStatusText(status: ManagerStatus | undefined): string {
  if (status === undefined) return '';
  if (status.leader) return 'Leader';
  if (status.reachability === 'reachable') return 'Reachable';
  if (status.reachability === 'unreachable') return 'Unreachable';
  return 'Unknown';
}

/** A node as JSON: the object, with its Raft view when it is a manager (docker nests ManagerStatus alike). */
function nodeJson(node: Node, managerStatus: ManagerStatus | undefined): unknown {
  const json = Node.toJSON(node) as Record<string, unknown>;
  return managerStatus === undefined ? json : { ...json, managerStatus: ManagerStatus.toJSON(managerStatus) };
}

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: 'List nodes in the cluster',
  flags: [quietFlag, formatFlag],
  minArgs: 0,
  maxArgs: 0,
  remote: true,
  async run(ctx) {
    const format = outputFormat(ctx.flags);
    const { nodes, managers } = await ctx.api().listNodes();
    const managerOf = (node: Node) => managers.find((m) => m.raftId === node.meta!.id);
    if (ctx.flags.bool('quiet')) ctx.io.out.write(nodes.map((n) => `${n.meta!.id}\n`).join(''));
    else if (format === 'json') ctx.io.out.write(toJsonText(nodes.map((n) => nodeJson(n, managerOf(n)))));
    else {
      const rows = nodes.map((n) => [
        shortId(n.meta!.id),
        nodeHostname(n),
        nodeStateTitle(n.status?.state ?? 0),
        availabilityTitle(n.spec?.availability ?? 0),
        managerStatusText(managerOf(n)),
      ]);
      ctx.io.out.write(renderTable(['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS'], rows));
    }
    return 0;
  },
};

const inspect: Command = {
  name: 'inspect',
  usage: '[OPTIONS] NODE [NODE...]',
  summary: 'Display detailed information on one or more nodes',
  flags: [{ name: 'pretty', kind: 'bool', help: 'Print the information in a human friendly format' }],
  minArgs: 1,
  remote: true,
  async run(ctx) {
    const found: NodeDetails[] = [];
    const code = await forEachArg(ctx, async (ref) => void found.push(await ctx.api().getNode(ref)));
    if (ctx.flags.bool('pretty')) ctx.io.out.write(found.map((f) => prettyNode(f.node, f.managerStatus)).join('\n'));
    else ctx.io.out.write(toJsonText(found.map((f) => nodeJson(f.node, f.managerStatus))));
    return code;
  },
};

const nodeTaskFilterKeys: readonly TaskFilterKey[] = ['desired-state', 'id', 'name'];

/**
 * The tasks on the nodes named, or on every node when none is: docker's default is the node the
 * daemon runs on, but shoal's CLI is a client of any manager (which forwards to the leader), so
 * there is no "this node" to mean. Tasks not yet placed on a node are left out (`task ls` has them).
 */
const ps: Command = {
  name: 'ps',
  usage: '[OPTIONS] [NODE...]',
  summary: 'List tasks on one or more nodes (every node when none is named)',
  flags: [taskFilterFlag(nodeTaskFilterKeys), noTruncFlag, quietFlag, formatFlag],
  minArgs: 0,
  remote: true,
  async run(ctx) {
    const format = outputFormat(ctx.flags);
    const filters = parseTaskFilters(ctx.flags.list('filter'), nodeTaskFilterKeys);
    const api = ctx.api();
    const nodeIds: string[] = [];
    const code = await forEachArg(ctx, async (ref) => void nodeIds.push((await api.getNode(ref)).node.meta!.id));
    // Every node named is unknown: print nothing rather than every node's tasks.
    if (ctx.args.length > 0 && nodeIds.length === 0) return code;
    const [tasks, nodes] = await Promise.all([api.listTasks({ ...filters.request, nodeIds }), api.listNodes()]);
    printTasks(ctx, tasks.filter((t) => t.nodeId !== '' && filters.matches(t)), nodes.nodes, format);
    return code;
  },
};

const availabilities = {
  active: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
  pause: NodeAvailability.NODE_AVAILABILITY_PAUSE,
  drain: NodeAvailability.NODE_AVAILABILITY_DRAIN,
};
const roles = { worker: NodeRole.NODE_ROLE_WORKER, manager: NodeRole.NODE_ROLE_MANAGER };

/** Attempts at a read-modify-write of a node before a conflict is reported. */
const UPDATE_ATTEMPTS = 3;

/**
 * Reads the node, lets `change` edit a copy of its spec, and writes it with the version read,
 * retrying on a conflicting write. `change` returns false when there is nothing to write.
 * Resolves with whether anything was written.
 */
async function updateNodeSpec(api: ControlApi, ref: string, change: (spec: NodeSpec) => boolean): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const { node } = await api.getNode(ref);
    const spec = NodeSpec.fromPartial(node.spec ?? {});
    spec.annotations ??= { name: '', labels: {} };
    if (!change(spec)) return false;
    try {
      await api.updateNode(node.meta!.id, node.meta!.version, spec);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.code === status.ABORTED && attempt < UPDATE_ATTEMPTS) continue;
      throw error;
    }
  }
}

const update: Command = {
  name: 'update',
  usage: '[OPTIONS] NODE',
  summary: 'Update a node',
  flags: [
    { name: 'availability', kind: 'string', value: 'string', help: 'Availability of the node ("active", "pause", "drain")' },
    { name: 'label-add', kind: 'list', value: 'list', help: 'Add or update a node label (key=value)' },
    { name: 'label-rm', kind: 'list', value: 'list', help: 'Remove a node label if exists' },
    { name: 'role', kind: 'string', value: 'string', help: 'Role of the node ("worker", "manager")' },
  ],
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const availability = choiceFlag(ctx.flags, 'availability', availabilities);
    const role = choiceFlag(ctx.flags, 'role', roles);
    const labelsAdded = parseKeyValues(ctx.flags.list('label-add'), 'label-add');
    const labelsRemoved = ctx.flags.list('label-rm');
    if (availability === undefined && role === undefined && Object.keys(labelsAdded).length === 0 && labelsRemoved.length === 0) {
      throw new UsageError('nothing to update: give --availability, --label-add, --label-rm or --role');
    }
    await updateNodeSpec(ctx.api(), ctx.args[0]!, (spec) => {
      const labels = { ...spec.annotations!.labels };
      for (const key of labelsRemoved) delete labels[key];
      spec.annotations!.labels = { ...labels, ...labelsAdded };
      if (availability !== undefined) spec.availability = availability;
      if (role !== undefined) spec.desiredRole = role;
      return true;
    });
    ctx.io.out.write(`${ctx.args[0]}\n`);
    return 0;
  },
};

/** `node promote` and `node demote`: set the desired role; the leader's role manager changes Raft. */
function roleCommand(name: 'promote' | 'demote', role: NodeRole): Command {
  const roleName = role === NodeRole.NODE_ROLE_MANAGER ? 'manager' : 'worker';
  return {
    name,
    usage: 'NODE [NODE...]',
    summary: name === 'promote' ? 'Promote one or more nodes to manager in the cluster' : 'Demote one or more nodes from manager in the cluster',
    flags: [],
    minArgs: 1,
    remote: true,
    run(ctx) {
      return forEachArg(ctx, async (ref) => {
        const changed = await updateNodeSpec(ctx.api(), ref, (spec) => {
          if (spec.desiredRole === role) return false;
          spec.desiredRole = role;
          return true;
        });
        if (!changed) ctx.io.out.write(`Node ${ref} is already a ${roleName}.\n`);
        else if (name === 'promote') ctx.io.out.write(`Node ${ref} promoted to a manager in the cluster.\n`);
        else ctx.io.out.write(`Manager ${ref} demoted in the cluster.\n`);
      });
    },
  };
}

const rm: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: '[OPTIONS] NODE [NODE...]',
  summary: 'Remove one or more nodes from the cluster',
  flags: [{ name: 'force', short: 'f', kind: 'bool', help: 'Force remove a node from the cluster' }],
  minArgs: 1,
  remote: true,
  run(ctx) {
    return forEachArg(ctx, async (ref) => {
      await ctx.api().removeNode(ref, ctx.flags.bool('force'));
      ctx.io.out.write(`${ref}\n`);
    });
  },
};

export const nodeGroup: CommandGroup = {
  name: 'node',
  summary: 'Manage nodes',
  commands: [roleCommand('demote', NodeRole.NODE_ROLE_WORKER), inspect, ls, roleCommand('promote', NodeRole.NODE_ROLE_MANAGER), ps, rm, update],
};
