#!/usr/bin/env node
/**
 * The single `shoal` command. It dispatches to subcommands; today only the ones that exist are
 * listed (the manager, worker and service commands arrive with the control plane).
 */
import { readFileSync } from 'node:fs';

const usage = `Usage: shoal COMMAND

A cluster orchestrator in the spirit of Docker Swarm mode.

Commands:
  version     Print the shoal version
  help        Show this help

The Raft library (src/raft) is usable today through its simulator and benchmark:
  npm run sim -- --seeds N --from S   deterministic fault-injection simulation
  npm run bench:raft -- --json        three-node etcd-compatible KV benchmark
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function main(argv: string[]): number {
  const [command] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return 0;
    case 'version':
    case '--version':
      process.stdout.write(`shoal ${version()}\n`);
      return 0;
    default:
      process.stderr.write(`shoal: unknown command '${command}'; see 'shoal help'\n`);
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
