import { pino, type Logger } from 'pino';

export type { Logger };

/** Daemons log structured JSON; `SHOAL_LOG_LEVEL` adjusts the level (default info). */
export function createLogger(name: string, level = process.env.SHOAL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level });
}

/** A logger that drops everything, for tests and the simulator. */
export const silentLogger: Logger = pino({ level: 'silent' });
