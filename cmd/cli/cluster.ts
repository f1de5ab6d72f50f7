/** `shoal cluster info`: the cluster object, the managers' Raft view and object counts. */
import { GetClusterResponse } from '../../proto/gen/control.js';
import type { Command, CommandGroup } from './command.js';
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

export const clusterGroup: CommandGroup = {
  name: 'cluster',
  summary: 'Manage the cluster',
  commands: [info],
};
