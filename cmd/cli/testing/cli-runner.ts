/**
 * Runs the built `shoal` command (dist/cmd/shoal.js) for CLI tests, against the manager whose
 * control socket is `socket` (a FakeControl in these tests): exit code and output as a user sees them.
 */
import { SHOAL_JS } from '../../../test/support/daemon-process.js';
import { runCommand, type CommandResult } from '../../../test/support/run-command.js';

export type { CommandResult };

export function cliRunner(socket: string): (...args: string[]) => Promise<CommandResult> {
  return (...args) => runCommand(process.execPath, [SHOAL_JS, ...args], { ...process.env, SHOAL_HOST: `unix://${socket}` });
}
