/**
 * How a command is declared and run: its usage line, flags and argument count; the runner parses
 * flags, answers `--help`, connects lazily to the manager named by `--host`, and turns every failure
 * into one line on stderr with docker's exit codes (2 for usage, 1 for the rest).
 */
import { ControlApi, resolveHost } from './client.js';
import { CliError, UsageError } from './errors.js';
import { formatFlagHelp, parseArgs, type FlagSpec, type ParsedFlags } from './flags.js';
import type { Io } from './io.js';

export interface CommandContext {
  readonly io: Io;
  readonly flags: ParsedFlags;
  readonly args: string[];
  /** The control API of the manager chosen by --host / SHOAL_HOST; connected on first use. */
  api(): ControlApi;
}

export interface Command {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** The arguments part of the usage line: `[OPTIONS] SERVICE [SERVICE...]`. */
  readonly usage: string;
  readonly summary: string;
  readonly flags: readonly FlagSpec[];
  readonly minArgs: number;
  /** Undefined: any number. */
  readonly maxArgs?: number;
  readonly stopAtFirstPositional?: boolean;
  /** Whether the command talks to a manager (and so accepts --host). */
  readonly remote: boolean;
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
}

export const hostFlag: FlagSpec = {
  name: 'host',
  short: 'H',
  kind: 'string',
  value: 'url',
  help: 'Manager to talk to: unix:///path/to.sock or tcp://host:port, or several separated by commas, tried in order (default $SHOAL_HOST, else unix:///var/run/shoal/shoal.sock)',
};
const helpFlag: FlagSpec = { name: 'help', short: 'h', kind: 'bool', help: 'Print usage' };

export function findCommand(group: CommandGroup, name: string): Command | undefined {
  return group.commands.find((c) => c.name === name || c.aliases?.includes(name));
}

function commandFlags(command: Command): FlagSpec[] {
  return [...command.flags, ...(command.remote ? [hostFlag] : []), helpFlag];
}

export function commandHelp(group: CommandGroup, command: Command): string {
  const aliases = command.aliases?.length ? `\nAliases:\n  ${[command.name, ...command.aliases].join(', ')}\n` : '';
  return (
    `Usage:  shoal ${group.name} ${command.name} ${command.usage}\n\n${command.summary}\n${aliases}\n` +
    `Options:\n${formatFlagHelp(commandFlags(command))}`
  );
}

export function groupHelp(group: CommandGroup): string {
  const width = Math.max(...group.commands.map((c) => c.name.length));
  const lines = group.commands.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`);
  return (
    `Usage:  shoal ${group.name} COMMAND\n\n${group.summary}\n\nCommands:\n${lines.join('\n')}\n\n` +
    `Run 'shoal ${group.name} COMMAND --help' for more information on a command.\n`
  );
}

/**
 * Runs `shoal GROUP ...argv`. `globalHost` is a --host given before the group name. Returns the
 * exit code; only an unexpected error (a bug) propagates.
 */
export async function runGroup(group: CommandGroup, argv: readonly string[], io: Io, globalHost: string | undefined): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out.write(groupHelp(group));
    return 0;
  }
  const command = findCommand(group, name);
  if (!command) {
    io.err.write(`shoal: unknown command '${group.name} ${name}'; see 'shoal ${group.name} --help'\n`);
    return 2;
  }
  const where = `shoal ${group.name} ${command.name}`;
  let api: ControlApi | undefined;
  try {
    const { flags, args } = parseArgs(commandFlags(command), rest, { stopAtFirstPositional: command.stopAtFirstPositional ?? false });
    if (flags.bool('help')) {
      io.out.write(commandHelp(group, command));
      return 0;
    }
    if (args.length < command.minArgs || (command.maxArgs !== undefined && args.length > command.maxArgs)) {
      throw new UsageError(argumentCountMessage(command, args.length));
    }
    const host = resolveHost(command.remote ? (flags.string('host') ?? globalHost) : globalHost, io.env);
    const ctx: CommandContext = {
      io,
      flags,
      args,
      api: () => (api ??= new ControlApi(host, io.env.SHOAL_CERT_PATH)),
    };
    return await command.run(ctx);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err.write(`${where}: ${error.message} (see '${where} --help')\n`);
      return error.exitCode;
    }
    if (error instanceof CliError) {
      io.err.write(`shoal: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  } finally {
    api?.close();
  }
}

/** Runs `action` for every argument, reporting each failure on stderr and going on; exit 1 if any failed. */
export async function forEachArg(ctx: CommandContext, action: (arg: string) => Promise<void>): Promise<number> {
  let failed = false;
  for (const arg of ctx.args) {
    try {
      await action(arg);
    } catch (error) {
      if (!(error instanceof CliError) || error instanceof UsageError) throw error;
      ctx.io.err.write(`shoal: ${error.message}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

function argumentCountMessage(command: Command, given: number): string {
  if (command.maxArgs === 0) return `accepts no arguments, got ${given}`;
  if (command.minArgs === command.maxArgs) return `requires exactly ${command.minArgs} argument${command.minArgs === 1 ? '' : 's'}, got ${given}`;
  if (given < command.minArgs) return `requires at least ${command.minArgs} argument${command.minArgs === 1 ? '' : 's'}, got ${given}`;
  return `accepts at most ${command.maxArgs} argument${command.maxArgs === 1 ? '' : 's'}, got ${given}`;
}
