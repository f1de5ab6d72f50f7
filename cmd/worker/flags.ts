/** `shoal worker` flags → what runWorker needs. */
import { createHash } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isHostPort } from '../../src/common/host-port.js';
import type { UpstreamServer } from '../../src/network/dns/upstream.js';
import { parseUpstreamList } from '../../src/network/dns/upstream-servers.js';
import { gatewaySubnet } from '../../src/network/gateway/names.js';

export const usage = `Usage: shoal worker --join HOST:PORT --token TOKEN --state-dir DIR [OPTIONS]

Run a worker: join the cluster, keep a session with the managers over mutual TLS and run the tasks
they assign to this node. The first start joins with the worker join token ('shoal cluster
join-token worker' on a manager) and keeps the node's certificate in the state directory; later
starts need no token. Stopping the worker (SIGTERM, SIGINT) leaves its tasks running; started
again on the same state directory, it takes them up again as the same node.

Options:
      --join HOST:PORT          A manager to join through (repeatable, or comma-separated);
                                the cluster's other managers are learnt from it (required)
      --token TOKEN             The worker join token, needed on the first start only
                                (default: $SHOAL_JOIN_TOKEN)
      --state-dir DIR           Where the node's certificate, assignments and task states are
                                kept (required)
      --executor NAME           What runs tasks: "runtime", real containers from the tasks'
                                images with shoal-runtime (needs root), or "fake", a SIMULATION
                                running each task as a plain sleep process, with no image,
                                isolation or resource limits (default runtime)
      --runtime-root DIR        shoal-runtime's state directory, on a tmpfs so that a reboot
                                forgets containers that no longer exist; one per worker
                                (default /run/shoal/<hash of the state directory>/runtime)
      --cgroup-parent PATH      The cgroup every container goes under, as PATH/<task id>
                                (default /shoal/<hostname>)
      --insecure-registry HOST:PORT
                                A registry pulled from over plain HTTP, not HTTPS
                                (repeatable, as dockerd's; loopback ones always are)
      --gateway-subnet CIDR     The subnet of this node's gateway bridge (shoal_gw), which
                                gives containers with host-mode ports an address the node
                                routes to; at least a /29, unused elsewhere on the node
                                (default 172.30.0.0/16)
      --dns-upstream LIST       The nameservers containers' queries for names outside the
                                cluster are forwarded to, ADDR[:PORT] comma-separated, or
                                "none" to answer them REFUSED (default: the nameservers of
                                this node's /etc/resolv.conf)
      --fake-config FILE        JSON timings and failure modes for the fake executor
                                (see cmd/worker/README.md)
      --label KEY=VALUE         A label of this node, for engine.labels constraints (repeatable)
      --hostname NAME           The hostname this node reports (default: this host's)
      --log-level LEVEL         trace, debug, info, warn, error (default info)
`;

export class UsageError extends Error {}

export interface WorkerFlags {
  managers: string[];
  /** Undefined when neither --token nor SHOAL_JOIN_TOKEN was given. */
  joinToken: string | undefined;
  stateDir: string;
  executor: 'runtime' | 'fake';
  runtimeRoot: string;
  cgroupParent: string;
  /** Registries (`host:port`) pulled from over plain HTTP, besides loopback ones. */
  insecureRegistries: string[];
  /** The gateway bridge's subnet; the network agent's default when undefined. */
  gatewaySubnet: string | undefined;
  /** Where names outside the cluster are forwarded (empty: nowhere); the node's resolv.conf's when undefined. */
  dnsUpstream: UpstreamServer[] | undefined;
  fakeConfigFile: string | undefined;
  labels: Record<string, string>;
  hostname: string | undefined;
  logLevel: string;
}

export type ParsedWorkerFlags = { help: true } | ({ help: false } & WorkerFlags);

/** `env` supplies SHOAL_JOIN_TOKEN when --token is not given. */
export function parseWorkerFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedWorkerFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        join: { type: 'string', multiple: true },
        token: { type: 'string' },
        'state-dir': { type: 'string' },
        executor: { type: 'string', default: 'runtime' },
        'runtime-root': { type: 'string' },
        'cgroup-parent': { type: 'string' },
        'insecure-registry': { type: 'string', multiple: true },
        'gateway-subnet': { type: 'string' },
        'dns-upstream': { type: 'string' },
        'fake-config': { type: 'string' },
        label: { type: 'string', multiple: true },
        hostname: { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return { help: true };
  const managers = (values.join ?? []).flatMap((j) => j.split(',')).map((a) => a.trim()).filter((a) => a !== '');
  if (managers.length === 0) throw new UsageError('--join is required');
  for (const address of managers) checkHostPort('--join', address);
  const joinToken = values.token ?? (env.SHOAL_JOIN_TOKEN || undefined);
  if (joinToken !== undefined && joinToken.trim() === '') throw new UsageError('--token must not be empty');
  const stateDir = values['state-dir'];
  if (!stateDir) throw new UsageError('--state-dir is required');
  const executor = values.executor;
  if (executor !== 'runtime' && executor !== 'fake') throw new UsageError(`--executor ${executor}: use runtime or fake`);
  if (executor !== 'fake' && values['fake-config'] !== undefined) throw new UsageError('--fake-config needs --executor fake');
  const runtimeRoot = values['runtime-root'] ?? defaultRuntimeRoot(stateDir);
  if (runtimeRoot === '') throw new UsageError('--runtime-root must not be empty');
  const logLevel = values['log-level'];
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    throw new UsageError(`--log-level ${logLevel}: use trace, debug, info, warn or error`);
  }
  if (values.hostname === '') throw new UsageError('--hostname must not be empty');
  const cgroupParent = values['cgroup-parent'] ?? `/shoal/${values.hostname ?? osHostname()}`;
  if (cgroupParent === '' || cgroupParent.split('/').includes('..')) throw new UsageError(`--cgroup-parent ${cgroupParent}: expected a cgroup path without '..'`);
  const insecureRegistries = values['insecure-registry'] ?? [];
  for (const registry of insecureRegistries) checkHostPort('--insecure-registry', registry);
  const subnet = values['gateway-subnet'];
  if (subnet !== undefined) {
    try {
      gatewaySubnet(subnet);
    } catch (err) {
      throw new UsageError(`--gateway-subnet: ${(err as Error).message}`);
    }
  }
  let dnsUpstream: UpstreamServer[] | undefined;
  try {
    dnsUpstream = values['dns-upstream'] === undefined ? undefined : parseUpstreamList(values['dns-upstream']);
  } catch (err) {
    throw new UsageError(`--dns-upstream: ${(err as Error).message}`);
  }
  return {
    help: false,
    managers,
    joinToken: joinToken?.trim(),
    stateDir,
    executor,
    runtimeRoot,
    cgroupParent,
    insecureRegistries,
    gatewaySubnet: subnet,
    dnsUpstream,
    fakeConfigFile: values['fake-config'],
    labels: parseLabels(values.label ?? []),
    hostname: values.hostname,
    logLevel,
  };
}

function parseLabels(items: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '') throw new UsageError(`--label ${item}: expected KEY=VALUE`);
    labels[key] = eq < 0 ? '' : item.slice(eq + 1);
  }
  return labels;
}

function checkHostPort(flag: string, address: string): void {
  if (!isHostPort(address)) throw new UsageError(`${flag} ${address}: expected HOST:PORT`);
}

/**
 * Where shoal-runtime keeps its state for the worker on `stateDir`: under /run, which a reboot
 * empties as it ends the containers, and named after the state directory, which no two workers share.
 */
export function defaultRuntimeRoot(stateDir: string): string {
  return `/run/shoal/${createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 12)}/runtime`;
}
