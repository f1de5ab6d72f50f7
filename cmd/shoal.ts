#!/usr/bin/env node
/**
 * The single `shoal` command. `shoal manager ...` runs the manager daemon (cmd/manager), `shoal
 * worker ...` the worker; every other command is a group of cmd/cli: clients of a manager's
 * control API, and `shoal image` (cmd/image), which works on the node's own image store.
 */
import { readFileSync } from 'node:fs';
import { parseTopLevel, runCli, topLevelHelp } from './cli/app.js';
import { UsageError } from './cli/errors.js';
import { processIo } from './cli/io.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  let top;
  try {
    top = parseTopLevel(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`shoal: ${error.message}; see 'shoal help'\n`);
    return 2;
  }
  switch (top.kind) {
    case 'help':
      process.stdout.write(topLevelHelp());
      return 0;
    case 'version':
      process.stdout.write(`shoal ${version()}\n`);
      return 0;
    case 'manager': {
      // Loaded only when needed: the client commands need none of the manager's code.
      const { runManager } = await import('./manager/main.js');
      return runManager(top.argv);
    }
    case 'worker': {
      const { runWorker } = await import('./worker/main.js');
      return runWorker(top.argv);
    }
    case 'runtime': {
      const { runRuntime } = await import('./runtime/runtime.js');
      return runRuntime(top.argv);
    }
    case 'client':
      return runCli(top.argv, top.host, processIo());
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A bug, not a user's mistake: say so, with the stack for the report.
    process.stderr.write(`shoal: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
