/** `shoal manager` flags → ManagerOptions (without the logger). */
import { parseArgs } from 'node:util';
import { DEFAULT_SOCKET_PATH } from '../../src/manager/control-socket.js';
import type { ManagerOptions } from '../../src/manager/manager.js';
import { parseDuration } from '../cli/units.js';

export const usage = `Usage: shoal manager --state-dir DIR --listen-addr HOST:PORT [OPTIONS]

Run a manager: a Raft member that keeps the cluster's state and, while it leads, schedules and
orchestrates tasks. The Control and Dispatcher services are served on the listen address; the
Control service also on the unix socket.

Options:
      --state-dir DIR             Where Raft state and the node id live (required)
      --listen-addr HOST:PORT     Raft, Control and Dispatcher port (required)
      --advertise-addr HOST:PORT  The address others reach this manager at (default: listen address)
      --socket PATH               Control socket (default ${DEFAULT_SOCKET_PATH})
      --init                      Create a new cluster if the state directory is empty
      --node-id ID                This manager's id on first start (default: random)
      --bootstrap ID=HOST:PORT,...  Founding managers of a static cluster, this one included;
                                  start every one with the same list and --init
      --heartbeat-period DURATION Node heartbeat period written into a new cluster (default 5s)
      --log-level LEVEL           trace, debug, info, warn, error (default info)
`;

export class UsageError extends Error {}

export type ParsedManagerFlags = { help: true } | { help: false; options: Omit<ManagerOptions, 'logger'>; logLevel: string };

export function parseManagerFlags(argv: string[]): ParsedManagerFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'state-dir': { type: 'string' },
        'listen-addr': { type: 'string' },
        'advertise-addr': { type: 'string' },
        socket: { type: 'string' },
        init: { type: 'boolean', default: false },
        'node-id': { type: 'string' },
        bootstrap: { type: 'string' },
        'heartbeat-period': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return { help: true };
  const stateDir = values['state-dir'];
  const listenAddr = values['listen-addr'];
  if (!stateDir) throw new UsageError('--state-dir is required');
  if (!listenAddr) throw new UsageError('--listen-addr is required');
  checkHostPort('--listen-addr', listenAddr);
  if (values['advertise-addr'] !== undefined) checkHostPort('--advertise-addr', values['advertise-addr']);
  const logLevel = values['log-level'];
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    throw new UsageError(`--log-level ${logLevel}: use trace, debug, info, warn or error`);
  }
  return {
    help: false,
    logLevel,
    options: {
      stateDir,
      listenAddr,
      advertiseAddr: values['advertise-addr'],
      socketPath: values.socket ?? DEFAULT_SOCKET_PATH,
      init: values.init,
      nodeId: values['node-id'],
      bootstrap: values.bootstrap === undefined ? undefined : parseBootstrap(values.bootstrap),
      heartbeatPeriodMs: values['heartbeat-period'] === undefined ? undefined : parseHeartbeat(values['heartbeat-period']),
    },
  };
}

function parseBootstrap(text: string): { id: string; address: string }[] {
  return text.split(',').map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--bootstrap: expected ID=HOST:PORT, got "${part}"`);
    const address = part.slice(eq + 1);
    checkHostPort('--bootstrap', address);
    return { id: part.slice(0, eq), address };
  });
}

function parseHeartbeat(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new UsageError(`--heartbeat-period: ${(err as Error).message}`);
  }
  if (ms < 10) throw new UsageError(`--heartbeat-period ${text}: must be at least 10ms`);
  return ms;
}

function checkHostPort(flag: string, address: string): void {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${flag} ${address}: expected HOST:PORT`);
  }
}
