/**
 * The client side of `shoal`: global options, the command groups and help. `cmd/shoal.ts` hands
 * everything but the daemons (`shoal manager`, `shoal worker`) to `runCli`. Every group talks to a
 * manager except `image` (cmd/image), which works on this node's image store.
 */
import { imageGroup } from '../image/image.js';
import { clusterGroup } from './cluster.js';
import { commandHelp, findCommand, groupHelp, hostFlag, runGroup, type CommandGroup } from './command.js';
import { formatFlagHelp, parseArgs, type FlagSpec } from './flags.js';
import type { Io } from './io.js';
import { networkGroup } from './network.js';
import { nodeGroup } from './node.js';
import { serviceGroup } from './service.js';
import { stackGroup } from './stack.js';
import { taskGroup } from './task.js';

/** `image` works on this node's own state directory; the others are clients of a manager. */
export const groups: readonly CommandGroup[] = [clusterGroup, imageGroup, networkGroup, nodeGroup, serviceGroup, stackGroup, taskGroup];

const globalFlags: FlagSpec[] = [
  hostFlag,
  { name: 'help', short: 'h', kind: 'bool', help: 'Print usage' },
  { name: 'version', short: 'v', kind: 'bool', help: 'Print version information and quit' },
];

/** Commands outside the groups; `cmd/shoal.ts` runs them. */
const topLevelCommands: readonly [string, string][] = [
  ['manager', 'Run a manager: a Raft member that keeps the cluster state and serves the control API'],
  ['worker', 'Run a worker: keep a session with the managers and run the tasks they assign'],
  ['runtime', 'The OCI runtime command line (create, start, state, kill, delete, run, spec, exec)'],
  ['version', 'Print the shoal version'],
  ['help', "Show help for a command ('shoal help service create')"],
];

export function topLevelHelp(): string {
  const entries = [...groups.map((g): [string, string] => [g.name, g.summary]), ...topLevelCommands];
  const width = Math.max(...entries.map(([name]) => name.length));
  const list = (items: readonly [string, string][]) => items.map(([name, summary]) => `  ${name.padEnd(width)}   ${summary}`).join('\n');
  return (
    'Usage:  shoal [OPTIONS] COMMAND\n\n' +
    'A cluster orchestrator in the spirit of Docker Swarm mode.\n\n' +
    `Options:\n${formatFlagHelp(globalFlags)}\n` +
    `Management Commands:\n${list(groups.map((g) => [g.name, g.summary]))}\n\n` +
    `Commands:\n${list(topLevelCommands)}\n\n` +
    "Run 'shoal COMMAND --help' for more information on a command.\n\n" +
    'The Raft library is also exercised on its own:\n' +
    '  npm run sim -- --seeds N --from S   deterministic fault-injection simulation\n' +
    '  npm run bench:raft -- --json        three-node etcd-compatible KV benchmark\n'
  );
}

export type TopLevel =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'manager'; argv: string[] }
  | { kind: 'worker'; argv: string[] }
  | { kind: 'runtime'; argv: string[] }
  | { kind: 'client'; host: string | undefined; argv: string[] };

/** Splits the global options from the command: `shoal -H tcp://m1:4242 service ls`. */
export function parseTopLevel(argv: readonly string[]): TopLevel {
  const { flags, args } = parseArgs(globalFlags, argv, { stopAtFirstPositional: true });
  if (flags.bool('version')) return { kind: 'version' };
  const [command, ...rest] = args;
  if (command === undefined || flags.bool('help')) return { kind: 'help' };
  if (command === 'version') return { kind: 'version' };
  if (command === 'manager') return { kind: 'manager', argv: rest };
  if (command === 'worker') return { kind: 'worker', argv: rest };
  if (command === 'runtime') return { kind: 'runtime', argv: rest };
  return { kind: 'client', host: flags.string('host'), argv: args };
}

/** Runs a client command (`service ...`, `help ...`); resolves with the exit code. */
export async function runCli(argv: readonly string[], host: string | undefined, io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help') return help(rest, io);
  const group = groups.find((g) => g.name === name);
  if (group === undefined) {
    io.err.write(`shoal: unknown command '${name}'; see 'shoal help'\n`);
    return 2;
  }
  return runGroup(group, rest, io, host);
}

/** `shoal help [GROUP [COMMAND]]`. */
function help(topic: readonly string[], io: Io): number {
  const [groupName, commandName] = topic;
  if (groupName === undefined) {
    io.out.write(topLevelHelp());
    return 0;
  }
  const group = groups.find((g) => g.name === groupName);
  if (group === undefined) {
    io.err.write(`shoal: unknown help topic '${topic.join(' ')}'; see 'shoal help'\n`);
    return 2;
  }
  if (commandName === undefined) {
    io.out.write(groupHelp(group));
    return 0;
  }
  const command = findCommand(group, commandName);
  if (command === undefined) {
    io.err.write(`shoal: unknown help topic '${topic.join(' ')}'; see 'shoal help ${group.name}'\n`);
    return 2;
  }
  io.out.write(commandHelp(group, command));
  return 0;
}
