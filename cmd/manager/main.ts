/**
 * `shoal manager ...`: runs a manager until SIGTERM or SIGINT (a graceful stop, exit 0) or until
 * its Raft node fails (exit 1). Logs are pino JSON on stderr; stdout stays free for the CLI.
 */
import { pino } from 'pino';
import { Manager } from '../../src/manager/manager.js';
import { parseManagerFlags, usage, UsageError } from './flags.js';

/** Runs the manager; resolves with the process exit code. */
export async function runManager(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseManagerFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`shoal manager: ${err.message}; see 'shoal manager --help'\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(usage);
    return 0;
  }
  const logger = pino({ name: 'shoal-manager', level: parsed.logLevel }, pino.destination(2));
  let manager: Manager;
  try {
    manager = await Manager.start({ ...parsed.options, logger });
  } catch (err) {
    logger.error({ err }, 'manager failed to start');
    process.stderr.write(`shoal manager: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ why }, 'manager: stop requested');
      manager.close().then(
        () => resolve(code),
        (err: unknown) => {
          logger.error({ err }, 'manager did not stop cleanly');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM', 0));
    process.on('SIGINT', () => stop('SIGINT', 0));
    manager.onFatal(() => stop('raft failed', 1));
  });
}
