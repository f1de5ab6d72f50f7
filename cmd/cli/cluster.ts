/**
 * `shoal cluster info`: the cluster object, the managers' Raft view and object counts.
 * `shoal cluster join-token`: the command line that adds a worker or a manager (docker's
 * `swarm join-token`).
 */
import { GetClusterResponse } from '../../proto/gen/control.js';
import { NodeRole } from '../../proto/gen/objects.js';
import type { Command, CommandGroup } from './command.js';
import { UsageError } from './errors.js';
import { formatFlag, outputFormat, toJsonText } from './output.js';
import { renderTable } from './table.js';
import { formatDuration } from './units.js';

const info: Command = {
  name: 'info',
  usage: '[OPTIONS]',
  summary: 'Display cluster-wide information',
  flags: [formatFlag],
  minArgs: 0,
  maxArgs: 0,
  remote: true,
  async run(ctx) {
    const format = outputFormat(ctx.flags);
    const api = ctx.api();
    const [cluster, nodes, services] = await Promise.all([api.getCluster(), api.listNodes(), api.listServices()]);
    const counts = { nodes: nodes.nodes.length, services: services.services.length };
    if (format === 'json') {
      ctx.io.out.write(toJsonText({ ...(GetClusterResponse.toJSON(cluster) as Record<string, unknown>), ...counts }));
      return 0;
    }
    const spec = cluster.cluster?.spec;
    const leader = cluster.managers.find((m) => m.leader);
    const managers = renderTable(
      ['RAFT ID', 'ADDRESS', 'LEADER', 'SUFFRAGE', 'REACHABILITY'],
      cluster.managers.map((m) => [m.raftId, m.addr, m.leader ? 'yes' : '', m.suffrage, m.reachability]),
    );
    const lines = [
      `Cluster ID: ${cluster.cluster?.meta?.id ?? '(not created yet: no leader has been elected)'}`,
      `Answered by: ${cluster.answeredBy}`,
      `Leader: ${leader?.raftId ?? '(none)'}`,
      'Raft:',
      ` Term: ${cluster.raftTerm}`,
      ` Commit index: ${cluster.raftCommitIndex}`,
      ` Applied index: ${cluster.raftAppliedIndex}`,
      `Managers: ${cluster.managers.length}`,
      ...managers.trimEnd().split('\n').map((l) => ` ${l}`),
      `Nodes: ${counts.nodes}`,
      `Services: ${counts.services}`,
    ];
    if (spec) {
      lines.push(`Task history retention limit: ${spec.taskHistoryRetentionLimit}`, `Heartbeat period: ${formatDuration(spec.heartbeatPeriodMs)}`);
    }
    ctx.io.out.write(lines.join('\n') + '\n');
    return 0;
  },
};

const joinRoles: Readonly<Record<string, NodeRole>> = { worker: NodeRole.NODE_ROLE_WORKER, manager: NodeRole.NODE_ROLE_MANAGER };

const joinToken: Command = {
  name: 'join-token',
  usage: '[OPTIONS] (worker|manager)',
  summary: 'Manage join tokens',
  flags: [
    { name: 'quiet', short: 'q', kind: 'bool', help: 'Only display token' },
    { name: 'rotate', kind: 'bool', help: 'Rotate join token' },
  ],
  minArgs: 1,
  maxArgs: 1,
  remote: true,
  async run(ctx) {
    const roleName = ctx.args[0]!;
    if (!Object.hasOwn(joinRoles, roleName)) throw new UsageError(`unknown role "${roleName}": use worker or manager`);
    const rotate = ctx.flags.bool('rotate');
    const { token, managerAddresses } = await ctx.api().getJoinToken(joinRoles[roleName]!, rotate);
    if (ctx.flags.bool('quiet')) {
      ctx.io.out.write(`${token}\n`);
      return 0;
    }
    const lines = rotate ? [`Successfully rotated ${roleName} join token.`, ''] : [];
    lines.push(
      `To add a ${roleName} to this cluster, run the following command:`,
      '',
      `    shoal ${roleName} --join ${managerAddresses[0] ?? 'MANAGER-ADDRESS'} --token ${token} --state-dir DIR${roleName === 'manager' ? ' --listen-addr HOST:PORT' : ''}`,
      '',
    );
    ctx.io.out.write(lines.join('\n'));
    return 0;
  },
};

export const clusterGroup: CommandGroup = {
  name: 'cluster',
  summary: 'Manage the cluster',
  commands: [info, joinToken],
};
