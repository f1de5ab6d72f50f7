/** `shoal manager` flags → ManagerOptions (without the logger). */
import { parseArgs } from 'node:util';
import { isHostPort } from '../../src/common/host-port.js';
import { DEFAULT_SOCKET_PATH } from '../../src/manager/control-socket.js';
import type { ManagerOptions } from '../../src/manager/manager.js';
import { parseDuration } from '../cli/units.js';

export const usage = `Usage: shoal manager --state-dir DIR --listen-addr HOST:PORT (--init | --join HOST:PORT --token TOKEN) [OPTIONS]

Run a manager: a Raft member that keeps the cluster's state and, while it leads, schedules and
orchestrates tasks. The listen address serves Raft, the Dispatcher (worker sessions), the node CA
and (for other managers) the Control service, all over mutual TLS; people reach the Control
service on the unix socket.

The first start needs --init (create a new cluster, its root CA and join tokens) or --join with a
manager join token (from 'shoal cluster join-token manager'); later starts on the same state
directory need neither.

Options:
      --state-dir DIR             Where the node credentials and Raft state live (required)
      --listen-addr HOST:PORT     Raft, Dispatcher, CA and Control port (required)
      --advertise-addr HOST:PORT  The address others reach this manager at (default: listen address)
      --socket PATH               Control socket (default ${DEFAULT_SOCKET_PATH})
      --init                      Create a new cluster if the state directory is empty
      --node-id ID                This manager's id when it creates the cluster (default: random)
      --join HOST:PORT            Join the cluster of the manager at this address
      --token TOKEN               The manager join token for --join (or $SHOAL_JOIN_TOKEN)
      --heartbeat-period DURATION Node heartbeat period written into a new cluster (default 5s)
      --cert-expiry DURATION      Node certificate lifetime written into a new cluster
                                  (default 2160h, 90 days); nodes renew theirs at half of it
      --force-new-cluster         Recover from a lost quorum: restart this manager, with its state,
                                  as the only member of the cluster. Use it once, only when the
                                  other managers are gone for good, and never restart them on
                                  their old state; they rejoin with --join on empty directories
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
        join: { type: 'string' },
        token: { type: 'string' },
        'cert-expiry': { type: 'string' },
        'heartbeat-period': { type: 'string' },
        'force-new-cluster': { type: 'boolean', default: false },
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
  if (values.join !== undefined) checkHostPort('--join', values.join);
  const token = values.token ?? process.env.SHOAL_JOIN_TOKEN;
  if (values.join !== undefined && !token) throw new UsageError('--join needs --token (or $SHOAL_JOIN_TOKEN): the manager join token');
  if (values.token !== undefined && values.join === undefined) throw new UsageError('--token goes with --join');
  if (values.init && values.join !== undefined) throw new UsageError('--init creates a new cluster and --join joins one: give one of them');
  if (values['node-id'] !== undefined && values.join !== undefined) throw new UsageError('--node-id applies to --init: a joining manager is named by the cluster');
  if (values['force-new-cluster'] && (values.init || values.join !== undefined)) {
    throw new UsageError('--force-new-cluster recovers an existing manager: it cannot be combined with --init or --join');
  }
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
      join: values.join === undefined ? undefined : { address: values.join, token: token ?? '' },
      heartbeatPeriodMs: values['heartbeat-period'] === undefined ? undefined : durationFlag('--heartbeat-period', values['heartbeat-period'], 10, '10ms'),
      certExpiryMs: values['cert-expiry'] === undefined ? undefined : durationFlag('--cert-expiry', values['cert-expiry'], 60 * 60 * 1000, '1h'),
      forceNewCluster: values['force-new-cluster'],
    },
  };
}

/** A duration flag's value in ms, at least `min` (`minText` says it in the flag's own terms). */
function durationFlag(flag: string, text: string, min: number, minText: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
  if (ms < min) throw new UsageError(`${flag} ${text}: must be at least ${minText}`);
  return ms;
}

function checkHostPort(flag: string, address: string): void {
  if (!isHostPort(address, 0)) throw new UsageError(`${flag} ${address}: expected HOST:PORT`);
}
