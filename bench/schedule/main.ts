/**
 * bench/schedule: how fast one manager places a large service, and runs it.
 *
 *   npm run bench:schedule -- --nodes 1000 --tasks 100000 --json   (goal: placements/s)
 *   npm run bench:scale -- --nodes 1000 --tasks 100000 --json      (goal: tasks/s until RUNNING)
 *
 * Starts one real manager process (fresh state directory, real WAL, every store write committed
 * through Raft), joins --nodes fake nodes (FakeNodeSimulator, in this process) with the worker
 * token, each with its own certificate and its own mutual-TLS connection, measures what their
 * heartbeats cost the manager while nothing else happens, then creates one replicated service of
 * --tasks replicas through the Control API and measures the time from the create call until every
 * task is ASSIGNED and delivered (the fake nodes count what their assignment sets hold, so polling
 * costs the manager nothing) and, unless --no-run-tasks, until every task reports RUNNING.
 * `--goal` says which of the two the goal applies to. Prints one JSON object (--json) or a summary.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NodeRole, ServiceSpec, TaskState } from '../../proto/gen/objects.js';
import { FakeNodeSimulator } from '../../test/support/node-simulator.js';
import { freePort } from '../../src/common/testing/free-port.js';
import { ManagerProcess } from '../../test/support/manager-process.js';
import { waitFor } from '../../test/support/wait-for.js';
import { Control } from './control.js';
import { positiveInteger } from '../options.js';

/** Issue 3: placements per second (every task ASSIGNED and delivered). */
const GOAL_PLACEMENTS_PER_SECOND = 10_000;
/** Issue 4: tasks per second from service create until every task reports RUNNING. */
const GOAL_RUNNING_PER_SECOND = 4_000;
const GOAL_PEAK_RSS_BYTES = 1024 ** 3;
/** Nodes registering at once: enough to be quick, few enough not to time out a busy manager. */
const REGISTRATION_WAVE = 100;
const POLL_MS = 20;

interface Options {
  goal: 'schedule' | 'scale';
  nodes: number;
  /** How long the idle cluster is watched to measure what heartbeats cost the manager. */
  idleSeconds: number;
  tasks: number;
  json: boolean;
  runTasks: boolean;
  keepDir: boolean;
  timeoutMs: number;
  logLevel: string;
  /** Extra node flags for the manager process, passed through NODE_OPTIONS. */
  managerNodeOptions: string;
  /** Where the manager writes a CPU profile of its whole run; empty: none. */
  profileDir: string;
  /** Print the delivered count to stderr every this many ms while waiting for it; 0: never. */
  progressMs: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      goal: { type: 'string', default: 'schedule' },
      'idle-s': { type: 'string', default: '10' },
      nodes: { type: 'string', default: '1000' },
      tasks: { type: 'string', default: '100000' },
      json: { type: 'boolean', default: false },
      'no-run-tasks': { type: 'boolean', default: false },
      'keep-dir': { type: 'boolean', default: false },
      'timeout-s': { type: 'string', default: '600' },
      'log-level': { type: 'string', default: 'warn' },
      'manager-node-options': { type: 'string', default: '' },
      'profile-dir': { type: 'string', default: '' },
      'progress-ms': { type: 'string', default: '0' },
    },
  });
  if (values.goal !== 'schedule' && values.goal !== 'scale') throw new Error(`--goal ${values.goal}: use schedule or scale`);
  if (values.goal === 'scale' && values['no-run-tasks']) throw new Error('--goal scale measures running tasks: drop --no-run-tasks');
  return {
    goal: values.goal,
    idleSeconds: positiveInteger('idle-s', values['idle-s']),
    nodes: positiveInteger('nodes', values.nodes),
    tasks: positiveInteger('tasks', values.tasks),
    json: values.json,
    runTasks: !values['no-run-tasks'],
    keepDir: values['keep-dir'],
    timeoutMs: positiveInteger('timeout-s', values['timeout-s']) * 1000,
    logLevel: values['log-level'],
    managerNodeOptions: values['manager-node-options'],
    profileDir: values['profile-dir'],
    progressMs: values['progress-ms'] === '0' ? 0 : positiveInteger('progress-ms', values['progress-ms']),
  };
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const loadBefore = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-schedule-'));
  const port = await freePort();
  setManagerEnvironment(opts);
  const manager = ManagerProcess.start({ dir, listenAddr: `127.0.0.1:${port}`, init: true, logLevel: opts.logLevel });
  const control = new Control(manager.socket);
  const nodes: FakeNodeSimulator[] = [];
  try {
    await waitFor('the manager to lead', async () => {
      if (!manager.alive) throw new Error(`the manager exited:\n${manager.log()}`);
      return control.getCluster().then((c) => c.cluster !== undefined, () => false);
    }, 30_000, 50);

    const joinToken = await control.workerJoinToken();
    for (let i = 0; i < opts.nodes; i++) {
      nodes.push(new FakeNodeSimulator({
        managers: [manager.address],
        joinToken,
        hostname: `fake-${String(i).padStart(5, '0')}`,
        runTasks: opts.runTasks,
        stepDelayMs: 20,
        statusBatchMs: 100,
      }));
    }
    for (let i = 0; i < nodes.length; i += REGISTRATION_WAVE) {
      await Promise.all(nodes.slice(i, i + REGISTRATION_WAVE).map((n) => n.start()));
    }
    // The manager itself is listed too, as a node of its own.
    const registered = (await control.listNodes()).nodes.filter((n) => n.spec?.desiredRole !== NodeRole.NODE_ROLE_MANAGER).length;
    if (registered !== opts.nodes) throw new Error(`${registered} nodes registered, expected ${opts.nodes}`);

    const heartbeat = await measureHeartbeats(manager.pid, nodes, opts.idleSeconds);
    const rssBefore = manager.peakRssBytes();
    const managerCpuBefore = cpuSeconds(manager.pid);
    const benchCpuBefore = process.cpuUsage();
    // This process hosts every fake node: if its event loop lags, the nodes (not the manager) are slow.
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    const started = performance.now();
    const created = await control.createService(
      ServiceSpec.fromPartial({
        annotations: { name: 'bench' },
        task: { container: { image: 'bench:1' } },
        mode: { $case: 'replicated', replicated: { replicas: opts.tasks } },
      }),
    );
    const createdMs = performance.now() - started;
    const held = (): number => nodes.reduce((sum, n) => sum + n.taskCount(), 0);
    const progress = opts.progressMs > 0
      ? setInterval(() => console.error(`bench: ${Math.round(performance.now() - started)} ms: ${held()} delivered`), opts.progressMs)
      : undefined;
    await waitFor('every task to be assigned', () => held() >= opts.tasks, opts.timeoutMs, POLL_MS);
    clearInterval(progress);
    const assignedMs = performance.now() - started;
    const managerCpuAssigned = cpuSeconds(manager.pid) - managerCpuBefore;
    const benchCpuAssigned = process.cpuUsage(benchCpuBefore);

    let runningMs: number | undefined;
    if (opts.runTasks) {
      const serviceId = created.service?.meta?.id ?? '';
      await waitFor('every task to run', async () => {
        const services = await control.listServices();
        return (services.runningTasks[serviceId] ?? 0) >= opts.tasks;
      }, opts.timeoutMs, 250);
      runningMs = performance.now() - started;
    }
    const peakRss = manager.peakRssBytes();
    lag.disable();

    // Check what was measured: exactly one task per slot, each on a node, none left pending.
    const { tasks } = await control.listTasks({ serviceIds: [created.service?.meta?.id ?? ''] });
    const slots = new Set(tasks.map((t) => t.slot));
    const unplaced = tasks.filter((t) => (t.status?.state ?? 0) < TaskState.TASK_STATE_ASSIGNED || t.nodeId === '').length;
    const perNode = nodes.map((n) => n.taskCount());
    const assignmentMessages = nodes.reduce((sum, n) => sum + n.status().assignmentMessages, 0);
    const cluster = await control.getCluster();

    const placementsPerSecond = opts.tasks / (assignedMs / 1000);
    const runningPerSecond = runningMs === undefined ? undefined : opts.tasks / (runningMs / 1000);
    const goal =
      opts.goal === 'schedule'
        ? { placementsPerSecond: GOAL_PLACEMENTS_PER_SECOND, peakRssMiB: GOAL_PEAK_RSS_BYTES / 1024 ** 2, met: placementsPerSecond >= GOAL_PLACEMENTS_PER_SECOND && peakRss < GOAL_PEAK_RSS_BYTES }
        : { runningTasksPerSecond: GOAL_RUNNING_PER_SECOND, peakRssMiB: GOAL_PEAK_RSS_BYTES / 1024 ** 2, met: (runningPerSecond ?? 0) >= GOAL_RUNNING_PER_SECOND && peakRss < GOAL_PEAK_RSS_BYTES };
    const result = {
      benchmark: opts.goal,
      transport: 'mutual TLS, one connection per node',
      nodes: opts.nodes,
      tasks: opts.tasks,
      nodesRunTasks: opts.runTasks,
      createCallMs: round(createdMs),
      allAssignedSeconds: round(assignedMs / 1000, 3),
      placementsPerSecond: Math.round(placementsPerSecond),
      allRunningSeconds: runningMs === undefined ? null : round(runningMs / 1000, 3),
      runningTasksPerSecond: runningPerSecond === undefined ? null : Math.round(runningPerSecond),
      managerPeakRssMiB: round(peakRss / 1024 ** 2, 1),
      managerRssBeforeCreateMiB: round(rssBefore / 1024 ** 2, 1),
      heartbeat,
      tasksPerNode: { min: Math.min(...perNode), max: Math.max(...perNode) },
      assignmentMessages,
      fakeNodesEventLoopLagMaxMs: round(lag.max / 1e6),
      // CPU time spent until every task was delivered: steadier than wall time on a shared machine.
      cpuSecondsUntilAssigned: {
        manager: round(managerCpuAssigned, 2),
        fakeNodes: round((benchCpuAssigned.user + benchCpuAssigned.system) / 1e6, 2),
      },
      check: { tasksListed: tasks.length, distinctSlots: slots.size, unplaced },
      raft: { term: cluster.raftTerm, commitIndex: cluster.raftCommitIndex },
      // The machine may be shared: a high load average means the numbers understate shoal.
      loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0], 2) },
      goal,
    };
    if (opts.json) console.log(JSON.stringify(result));
    else {
      console.log(`${opts.tasks} tasks on ${opts.nodes} nodes: all assigned in ${result.allAssignedSeconds} s ` +
        `(${result.placementsPerSecond} placements/s), manager peak RSS ${result.managerPeakRssMiB} MiB` +
        (runningMs === undefined ? '' : `, all running in ${result.allRunningSeconds} s (${result.runningTasksPerSecond} tasks/s)`));
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    control.close();
    const code = await manager.stop();
    if (code !== 0) console.error(`bench: the manager exited with ${code}; its log is ${manager.logFile}`);
    if (!opts.keepDir && code === 0) rmSync(dir, { recursive: true, force: true });
  }
}

/** The manager process inherits this process's environment (and this process starts no other). */
function setManagerEnvironment(opts: Options): void {
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', opts.managerNodeOptions];
  if (opts.profileDir !== '') {
    mkdirSync(opts.profileDir, { recursive: true });
    process.env.SHOAL_BENCH_PROFILE_DIR = resolve(opts.profileDir);
    nodeOptions.push(`--import=${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'cpu-profile.js')).href)}`);
  }
  const joined = nodeOptions.filter((o) => o !== '').join(' ');
  if (joined !== '') process.env.NODE_OPTIONS = joined;
}

/**
 * What heartbeats cost the manager: its CPU time over `seconds` of an idle cluster (nodes joined,
 * no service yet), against the heartbeats the nodes had answered meanwhile.
 */
async function measureHeartbeats(pid: number, nodes: readonly FakeNodeSimulator[], seconds: number) {
  const answered = (): number => nodes.reduce((sum, n) => sum + n.status().heartbeatsAnswered, 0);
  const cpuBefore = cpuSeconds(pid);
  const before = answered();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = cpuSeconds(pid) - cpuBefore;
  const count = answered() - before;
  return {
    idleSeconds: seconds,
    heartbeats: count,
    perSecond: round(count / seconds, 1),
    managerCpuPercent: round((cpu / seconds) * 100, 1),
    managerCpuMsPerHeartbeat: count === 0 ? null : round((cpu * 1000) / count, 3),
  };
}

/** User plus system CPU time of a process so far (Linux), from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), counted from field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100;
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

main().catch((err: unknown) => {
  console.error(`bench:schedule: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
