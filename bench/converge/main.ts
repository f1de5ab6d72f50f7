/**
 * `npm run bench:converge -- [--replicas N] [--runs N] [--network] [--json]` (as root): how fast a real
 * cluster turns a service into running containers, against Docker Swarm's times on this machine
 * (issue 6's goal: a fifth of Docker's time or less).
 *
 * One manager and one worker from deploy/local-cluster.sh, each in its own network namespace, the
 * worker running real containers of the base image from the cluster's registry. The image is
 * pulled once by an untimed warm-up service, as it would be on a Docker node that ran it before.
 * Then, --runs times (3), on a fresh service of --replicas (20) replicas:
 *   1. converge: from the CreateService call to every replica RUNNING;
 *   2. update: from the UpdateService call (a new environment variable; parallelism 5, delay 0,
 *      monitor 0, stop-first, as the Docker reference run) to the update COMPLETED with every
 *      replica RUNNING the new spec.
 * With --network the service is on an overlay network: each task gets an address from the
 * allocator before it is scheduled, and its container a veth, DNS and VIP rules before it starts.
 * Progress is read by polling the control API every POLL_MS, as `docker service create` does.
 * Each container runs a shell that exits on SIGTERM, so stopping one costs no grace period.
 *
 * Prints one JSON object with --json, else a short summary. The cluster is removed at the end, on
 * failure and on SIGINT/SIGTERM too.
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { status } from '@grpc/grpc-js';
import { ApiError, ControlApi } from '../../cmd/cli/client.js';
import { ServiceSpec, TaskState, UpdateState, type Task } from '../../proto/gen/objects.js';
import { LocalCluster } from '../../test/support/local-cluster.js';
import { round } from '../runtime/stats.js';
import { positiveInteger } from '../options.js';

const CLUSTER = { name: 'bconv', managers: 1, workers: 1 } as const;
const POLL_MS = 20;
/** A run that has not converged by then has failed. */
const RUN_TIMEOUT_MS = 120_000;
/** Exits at once on SIGTERM: `wait` returns when a trapped signal arrives, `sleep` would not. */
const COMMAND = ['sh', '-c', 'trap "exit 0" TERM; sleep 100000 & wait'];

/** Docker Swarm 20.10 on this kind of machine, from the issue. */
const DOCKER_SWARM = { converge20Seconds: [7.4, 8.5], update20Seconds: [18, 26], converge100Seconds: 32 };

interface Options {
  json: boolean;
  replicas: number;
  runs: number;
  network: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      replicas: { type: 'string', default: '20' },
      runs: { type: 'string', default: '3' },
      network: { type: 'boolean', default: false },
    },
  });
  return { json: values.json, replicas: positiveInteger('replicas', values.replicas), runs: positiveInteger('runs', values.runs), network: values.network };
}

/** What every service of a run shares: the image, and the overlay network's id with --network. */
interface Target {
  image: string;
  networkId?: string;
}

function serviceSpec(name: string, target: Target, replicas: number, round: number): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name },
    task: {
      container: { image: target.image, command: COMMAND, env: [`BENCH_ROUND=${round}`] },
      networks: target.networkId ? [{ target: target.networkId }] : [],
    },
    mode: { $case: 'replicated', replicated: { replicas } },
    update: { parallelism: 5, delayMs: 0, monitorMs: 0 },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done` holds of the service's tasks; the elapsed seconds since `since`. */
async function until(api: ControlApi, serviceId: string, since: number, done: (tasks: Task[]) => Promise<boolean> | boolean): Promise<number> {
  for (;;) {
    const tasks = await api.listTasks({ serviceIds: [serviceId] });
    if (await done(tasks)) return (performance.now() - since) / 1000;
    if (performance.now() - since > RUN_TIMEOUT_MS) {
      const states = tasks.map((t) => `${t.slot}:${TaskState[t.status?.state ?? 0]} ${t.status?.err || t.status?.message || ''}`);
      throw new Error(`service ${serviceId} did not get there within ${RUN_TIMEOUT_MS / 1000}s; tasks: ${states.join(', ')}`);
    }
    await sleep(POLL_MS);
  }
}

const runningWith = (tasks: Task[], marker: string): number =>
  tasks.filter((t) => t.desiredState === TaskState.TASK_STATE_RUNNING && t.status?.state === TaskState.TASK_STATE_RUNNING && t.spec?.container?.env.includes(marker)).length;

interface RunResult {
  convergeSeconds: number;
  updateSeconds: number;
}

async function oneRun(api: ControlApi, target: Target, replicas: number, run: number): Promise<RunResult> {
  const name = `converge-${run}`;
  const created = performance.now();
  const service = await api.createService(serviceSpec(name, target, replicas, 1));
  const id = service.meta!.id;
  const convergeSeconds = await until(api, id, created, (tasks) => runningWith(tasks, 'BENCH_ROUND=1') === replicas);

  const current = await api.getService(id);
  const updated = performance.now();
  await api.updateService({ id, version: current.meta!.version, spec: serviceSpec(name, target, replicas, 2), rollback: false });
  const updateSeconds = await until(api, id, updated, async (tasks) => {
    if (runningWith(tasks, 'BENCH_ROUND=2') !== replicas) return false;
    return (await api.getService(id)).updateStatus?.state === UpdateState.UPDATE_STATE_COMPLETED;
  });

  // Gone before the next run starts, so that runs do not overlap on the worker.
  await api.removeService(id);
  await allStopped(api, id);
  return { convergeSeconds: round(convergeSeconds, 3), updateSeconds: round(updateSeconds, 3) };
}

/** Waits until every task of a removed service has stopped, or the managers have deleted them all. */
async function allStopped(api: ControlApi, serviceId: string): Promise<void> {
  try {
    await until(api, serviceId, performance.now(), (tasks) => tasks.every((t) => (t.status?.state ?? 0) > TaskState.TASK_STATE_RUNNING));
  } catch (err) {
    // The service's id names nothing any more once its last task is deleted.
    if (!(err instanceof ApiError && err.code === status.NOT_FOUND)) throw err;
  }
}

async function warmUp(api: ControlApi, target: Target): Promise<void> {
  const service = await api.createService(serviceSpec('converge-warmup', target, 1, 0));
  await until(api, service.meta!.id, performance.now(), (tasks) => runningWith(tasks, 'BENCH_ROUND=0') === 1);
  await api.removeService(service.meta!.id);
  await allStopped(api, service.meta!.id);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<number> {
  const opts = parseOptions();
  if (process.getuid?.() !== 0) throw new Error('needs root: network namespaces, mounts and cgroups');
  const progress = (line: string): void => {
    if (!opts.json) console.log(line);
  };
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-converge-'));
  const where = { name: CLUSTER.name, dir };
  const onSignal = (): void => {
    void LocalCluster.down(where).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const loadBefore = round(loadavg()[0]!);
  let api: ControlApi | undefined;
  try {
    progress('starting a local cluster: 1 manager, 1 worker');
    const cluster = await LocalCluster.up({ ...where, managers: CLUSTER.managers, workers: CLUSTER.workers });
    api = new ControlApi(cluster.env.SHOAL_HOST!);
    const target: Target = { image: cluster.baseImage };
    if (opts.network) target.networkId = (await api.createNetwork({ annotations: { name: 'converge', labels: {} }, driver: 'overlay', subnet: '', attachable: false, ingress: false })).meta!.id;
    await warmUp(api, target);
    const runs: RunResult[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      const result = await oneRun(api, target, opts.replicas, run);
      progress(`run ${run}: ${opts.replicas} replicas running in ${result.convergeSeconds} s, updated in ${result.updateSeconds} s`);
      runs.push(result);
    }
    const convergeSeconds = round(median(runs.map((r) => r.convergeSeconds)), 3);
    const updateSeconds = round(median(runs.map((r) => r.updateSeconds)), 3);
    const report = {
      benchmark: 'converge',
      replicas: opts.replicas,
      cluster: { managers: CLUSTER.managers, workers: CLUSTER.workers, executor: 'runtime' },
      overlayNetwork: opts.network,
      update: { parallelism: 5, delaySeconds: 0, monitorSeconds: 0, order: 'stop-first' },
      convergeSeconds,
      updateSeconds,
      runs,
      dockerSwarmReference: DOCKER_SWARM,
      // The goal, for 20 replicas: a fifth of Docker's best time.
      goal: opts.replicas === 20
        ? {
            convergeSeconds: round(DOCKER_SWARM.converge20Seconds[0]! / 5, 2),
            updateSeconds: round(DOCKER_SWARM.update20Seconds[0]! / 5, 2),
            met: convergeSeconds <= DOCKER_SWARM.converge20Seconds[0]! / 5 && updateSeconds <= DOCKER_SWARM.update20Seconds[0]! / 5,
          }
        : undefined,
      loadAverageBefore: loadBefore,
      loadAverageAfter: round(loadavg()[0]!),
    };
    if (opts.json) console.log(JSON.stringify(report));
    else progress(`median: converge ${convergeSeconds} s, update ${updateSeconds} s (Docker Swarm: ${DOCKER_SWARM.converge20Seconds.join('-')} s and ${DOCKER_SWARM.update20Seconds.join('-')} s for 20)`);
    return 0;
  } finally {
    api?.close();
    await LocalCluster.down(where);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:converge: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
