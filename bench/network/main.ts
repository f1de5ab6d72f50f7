/**
 * `npm run bench:network -- [--mib N] [--queries N] [--json]` (as root): what the overlay costs.
 *
 * A cluster from deploy/local-cluster.sh (`bnet`: one manager, two workers, each in its own
 * network namespace) with an overlay network, a server container on w2 and a client container on
 * w1, real containers of the cluster registry's busybox.
 *   1. TCP throughput: --mib MiB (1024) sent from the client container's network namespace to
 *      the server container's overlay address (veth, bridge, VXLAN between the two nodes, and back
 *      up), and the same transfer between the two nodes' own addresses (the underlay: the
 *      cluster's bridge). The programs (tcp-load.ts) are node, entered into the namespaces with
 *      nsenter, so the containers' tools do not limit the measure; timed from connect until the
 *      receiver acknowledges the last byte; the best of --runs (3).
 *   2. DNS: --queries (20000) lookups of the server's service name, 32 in flight, from the client
 *      container to its 127.0.0.11 (the supervisor's relay, then the worker's resolver).
 * Prints one JSON object with --json, else a summary. The cluster is removed at the end, on
 * failure and on SIGINT/SIGTERM too. No packet leaves the cluster's namespaces.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../../test/support/local-cluster.js';
import { runCommand } from '../../test/support/run-command.js';
import { waitFor } from '../../test/support/wait-for.js';
import { round } from '../runtime/stats.js';
import { DNS_LOAD_SCRIPT } from './dns-load.js';
import { TCP_RECEIVER_SCRIPT, TCP_SENDER_SCRIPT } from './tcp-load.js';
import { positiveInteger } from '../options.js';

const NAME = 'bnet';
const PORT = 5001;
const IDLE = 'trap "exit 0" TERM; sleep 100000 & wait';

interface Options {
  json: boolean;
  mib: number;
  runs: number;
  queries: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      mib: { type: 'string', default: '1024' },
      runs: { type: 'string', default: '3' },
      queries: { type: 'string', default: '20000' },
    },
  });
  return { json: values.json, mib: positiveInteger('mib', values.mib), runs: positiveInteger('runs', values.runs), queries: positiveInteger('queries', values.queries) };
}

interface TaskJson {
  meta: { id: string };
  status?: { state?: string };
  networks?: { address: string }[];
}

/** The one running task of a service: its id (the container's) and its overlay address. */
async function runningTask(cluster: LocalCluster, service: string): Promise<{ id: string; address: string }> {
  let found: { id: string; address: string } | undefined;
  await waitFor(`${service} running`, async () => {
    const tasks = JSON.parse(await cluster.shoalOk('service', 'ps', service, '--format', 'json')) as TaskJson[];
    const t = tasks.find((x) => x.status?.state === 'TASK_STATE_RUNNING' && x.networks?.[0]);
    if (t) found = { id: t.meta.id, address: t.networks![0]!.address.split('/')[0]! };
    return found !== undefined;
  }, 60_000, 200);
  return found!;
}

/** Seconds to send `bytes` from the `from` namespace to a receiver at `address` in the `to` namespace. */
async function transfer(path: { from: string; to: string; address: string }, bytes: number): Promise<number> {
  const receiver = spawn('nsenter', [`--net=${path.to}`, process.execPath, '-e', TCP_RECEIVER_SCRIPT, String(PORT), String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      receiver.stdout.once('data', () => resolve());
      receiver.once('exit', (code) => reject(new Error(`the receiver exited (${code}) before listening`)));
    });
    const sent = await runCommand('nsenter', [`--net=${path.from}`, process.execPath, '-e', TCP_SENDER_SCRIPT, path.address, String(PORT), String(bytes)]);
    if (sent.code !== 0) throw new Error(`the sender failed: ${sent.stderr.trim()}`);
    return (JSON.parse(sent.stdout) as { seconds: number }).seconds;
  } finally {
    receiver.kill();
  }
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (process.getuid?.() !== 0) throw new Error('needs root: network namespaces, mounts and cgroups');
  const progress = (line: string): void => {
    if (!opts.json) console.log(line);
  };
  const where = { name: NAME, dir: mkdtempSync(join(tmpdir(), 'shoal-bench-network-')) };
  const onSignal = (): void => {
    void LocalCluster.down(where).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const loadBefore = round(loadavg()[0]!);
  try {
    progress('starting a local cluster: 1 manager, 2 workers');
    const cluster = await LocalCluster.up({ ...where, managers: 1, workers: 2 });
    await cluster.shoalOk('network', 'create', 'bench');
    const service = (name: string, node: string, command: string) =>
      cluster.shoalOk('service', 'create', '--detach', '--name', name, '--network', 'bench', '--constraint', `node.hostname==${node}`, cluster.baseImage, 'sh', '-c', command);
    await service('sink', 'w2', IDLE);
    await service('client', 'w1', IDLE);
    const sink = await runningTask(cluster, 'sink');
    const client = await runningTask(cluster, 'client');
    const netnsOf = (node: string, taskId: string): string =>
      `/proc/${(JSON.parse(readFileSync(join(`/run/shoal-local/${NAME}/${node}`, taskId, 'state.json'), 'utf8')) as { pid: number }).pid}/ns/net`;
    const paths = {
      overlay: { from: netnsOf('w1', client.id), to: netnsOf('w2', sink.id), address: sink.address },
      underlay: { from: `/run/netns/${NAME}-w1`, to: `/run/netns/${NAME}-w2`, address: '10.213.0.102' },
    };
    const bytes = opts.mib * 1024 * 1024;
    const seconds = { overlay: [] as number[], underlay: [] as number[] };
    for (let run = 1; run <= opts.runs; run++) {
      for (const path of ['overlay', 'underlay'] as const) {
        seconds[path].push(await transfer(paths[path], bytes));
      }
      progress(`run ${run}: overlay ${round(seconds.overlay.at(-1)!, 3)} s, underlay ${round(seconds.underlay.at(-1)!, 3)} s for ${opts.mib} MiB`);
    }
    const mibPerSecond = (s: number[]) => round(opts.mib / Math.min(...s), 1);

    const dns = await runCommand('nsenter', [`--net=${paths.overlay.from}`, process.execPath, '-e', DNS_LOAD_SCRIPT, 'sink', String(opts.queries), '32']);
    if (dns.code !== 0) throw new Error(`the DNS load failed: ${dns.stderr.trim()}`);
    const dnsResult = JSON.parse(dns.stdout) as { answered: number; seconds: number; failed: number };

    const report = {
      benchmark: 'network',
      cluster: { managers: 1, workers: 2 },
      throughput: {
        mib: opts.mib,
        runs: opts.runs,
        overlayMiBPerSecond: mibPerSecond(seconds.overlay),
        underlayMiBPerSecond: mibPerSecond(seconds.underlay),
        overlayToUnderlay: round(Math.min(...seconds.underlay) / Math.min(...seconds.overlay), 2),
        overlaySeconds: seconds.overlay.map((s) => round(s, 3)),
        underlaySeconds: seconds.underlay.map((s) => round(s, 3)),
      },
      dns: { queries: dnsResult.answered, failed: dnsResult.failed, inFlight: 32, queriesPerSecond: Math.round(dnsResult.answered / dnsResult.seconds) },
      loadAverageBefore: loadBefore,
      loadAverageAfter: round(loadavg()[0]!),
    };
    if (opts.json) console.log(JSON.stringify(report));
    else progress(`overlay ${report.throughput.overlayMiBPerSecond} MiB/s, underlay ${report.throughput.underlayMiBPerSecond} MiB/s; DNS ${report.dns.queriesPerSecond} queries/s`);
    return 0;
  } finally {
    await LocalCluster.down(where);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:network: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
