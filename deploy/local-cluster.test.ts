/**
 * deploy/local-cluster.sh's own smoke test, on the real script, daemons and containers (needs
 * root and a build: `npm run build`, `bash src/runtime/shim/build.sh`): a failed `up` leaves
 * nothing, a one-manager one-worker cluster comes up with every node in its own namespace and
 * runs a service of the registry's image, a worker killed and started again keeps its containers,
 * `add-worker` adds one, and `down` leaves nothing behind. The end-to-end suite (test/) drives the
 * cluster much further.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, SHOAL_JS } from '../test/support/daemon-process.js';
import { runCommand, type CommandResult as Result } from '../test/support/run-command.js';

const SCRIPT = join(REPO_ROOT, 'deploy', 'local-cluster.sh');
const NAME = 'lctest';

let dir: string;
/** The service's containers, as the worker's runtime root records them. */
let containers: number[] = [];

/** The script on this test's cluster (`--name lctest --dir <tmp>`). */
function script(...args: string[]): Promise<Result> {
  return runCommand('bash', [SCRIPT, ...args, '--name', NAME, '--dir', dir]);
}

async function scriptOk(...args: string[]): Promise<string> {
  const r = await script(...args);
  if (r.code !== 0) throw new Error(`local-cluster.sh ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/** The real CLI with the SHOAL_HOST the cluster wrote to DIR/cluster.env. */
async function shoal(...args: string[]): Promise<string> {
  const r = await runCommand(process.execPath, [SHOAL_JS, ...args], { ...process.env, SHOAL_HOST: clusterEnv().SHOAL_HOST });
  if (r.code !== 0) throw new Error(`shoal ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function clusterEnv(): Record<string, string> {
  const lines = readFileSync(join(dir, 'cluster.env'), 'utf8').split('\n').filter((l) => l !== '');
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

interface NodeJson {
  meta: { id: string };
  description?: { hostname?: string };
  status?: { state?: string };
  managerStatus?: { leader?: boolean };
}

async function nodes(): Promise<NodeJson[]> {
  return JSON.parse(await shoal('node', 'ls', '--format', 'json')) as NodeJson[];
}

/** Polls `probe` every 200 ms until it returns a value, for at most `timeoutMs`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `ip netns identify PID`: the name of the network namespace the process is in. */
async function netnsOf(pid: string): Promise<string> {
  return (await runCommand('ip', ['netns', 'identify', pid])).stdout.trim();
}

/** The status lines' NODE → [ROLE, ADDRESS, PID, STATE]. */
function statusLines(text: string): Map<string, string[]> {
  const rows = text.split('\n').map((l) => l.trim().split(/\s+/));
  return new Map(rows.filter((r) => /^[mw]\d+$/.test(r[0]!)).map((r) => [r[0]!, r.slice(1)]));
}

/** Pids of the running containers in worker NODE's runtime root. */
function containerPids(node: string): number[] {
  const root = `/run/shoal-local/${NAME}/${node}`;
  return readdirSync(root)
    .filter((id) => !id.startsWith('.'))
    .map((id) => (JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as { pid: number }).pid)
    .sort();
}

function processesNaming(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function cgroupDirs(): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((hierarchy) => `/sys/fs/cgroup/${hierarchy}/shoal-local/${NAME}`)
    .filter((path) => existsSync(path));
}

beforeAll(async () => {
  for (const built of [SHOAL_JS, join(REPO_ROOT, 'dist', 'shim', 'shoal-runtime')]) {
    if (!existsSync(built)) throw new Error(`${built} is missing: run 'npm run build' and 'bash src/runtime/shim/build.sh'`);
  }
  dir = await mkdtemp(join(tmpdir(), 'shoal-lctest-'));
});

afterAll(async () => {
  // Runs even when a test failed half-way; down is idempotent.
  if (dir === undefined) return;
  await script('down');
  await rm(dir, { recursive: true, force: true });
});

describe('deploy/local-cluster.sh', () => {
  it('removes what it made when a daemon fails to come up, and shows its log', async () => {
    const r = await script('up', '--managers', '1', '--workers', '0', '--heartbeat-period', '5ms');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/m1 exited before it was leading; the end of .*daemon\.log/);
    expect(r.stderr).toMatch(/--heartbeat-period 5ms: must be at least 10ms/);
    expect((await runCommand('ip', ['netns', 'list'])).stdout).not.toMatch(new RegExp(`^${NAME}-`, 'm'));
    expect(existsSync(join(dir, 'nodes'))).toBe(false);
  });

  it('brings up a manager and a worker, each a host of its own, and prints what to export', async () => {
    const stdout = await scriptOk('up', '--managers', '1', '--workers', '1');
    const socket = `unix://${dir}/nodes/m1/shoal.sock`;
    expect(stdout).toBe(`export SHOAL_HOST=${socket}\nexport SHOAL_REGISTRY=10.213.0.1:5000\n`);
    expect(clusterEnv()).toEqual({ SHOAL_HOST: socket, SHOAL_REGISTRY: '10.213.0.1:5000' });
    expect(await scriptOk('env')).toBe(stdout);

    const status = statusLines(await scriptOk('status'));
    expect([...status.keys()]).toEqual(['m1', 'w1']);
    expect(status.get('m1')).toEqual(['manager', '10.213.0.11', expect.stringMatching(/^\d+$/), 'running']);
    expect(status.get('w1')).toEqual(['worker', '10.213.0.101', expect.stringMatching(/^\d+$/), 'running']);
    expect(await netnsOf(status.get('m1')![2]!)).toBe(`${NAME}-m1`);
    expect(await netnsOf(status.get('w1')![2]!)).toBe(`${NAME}-w1`);
    // Nothing in the root namespace: the addresses are the namespaces' only.
    expect((await runCommand('ip', ['-4', 'addr'])).stdout).not.toContain('10.213.0.');
    // No DNS query leaves the cluster: the worker forwards names outside it nowhere.
    const started = readFileSync(join(dir, 'nodes', 'w1', 'daemon.log'), 'utf8').split('\n').find((l) => l.includes(' shoal worker '));
    expect(started).toContain(' --dns-upstream none ');

    const listed = await nodes();
    expect(listed.map((n) => n.description?.hostname).sort()).toEqual(['m1', 'w1']);
    expect(listed.find((n) => n.description?.hostname === 'm1')?.managerStatus?.leader).toBe(true);
    expect(listed.find((n) => n.description?.hostname === 'w1')?.status?.state).toBe('NODE_STATE_READY');

    const again = await script('up', '--managers', '1', '--workers', '1');
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`local-cluster: local cluster ${NAME} already exists (${dir}); 'deploy/local-cluster.sh down --name ${NAME}' removes it`);
  });

  it('runs a service of the registry’s busybox image on the worker', async () => {
    await shoal('service', 'create', '--detach', '--name', 'sleeper', '--replicas', '2', `${clusterEnv().SHOAL_REGISTRY}/busybox:latest`, 'sleep', '1000');
    await eventually('two RUNNING tasks', async () => {
      const tasks = JSON.parse(await shoal('service', 'ps', 'sleeper', '--format', 'json')) as { status?: { state?: string } }[];
      return tasks.length === 2 && tasks.every((t) => t.status?.state === 'TASK_STATE_RUNNING') ? tasks : undefined;
    });
    containers = containerPids('w1');
    expect(containers).toHaveLength(2);
  });

  it('stops a worker with SIGKILL, its containers running on, and starts it again on them', async () => {
    const before = containerPids('w1');
    await scriptOk('stop', 'w1', '--kill');
    expect(statusLines(await scriptOk('status')).get('w1')).toEqual(['worker', '10.213.0.101', '-', 'stopped']);
    for (const pid of before) expect(existsSync(`/proc/${pid}`)).toBe(true);

    await scriptOk('start', 'w1');
    expect(statusLines(await scriptOk('status')).get('w1')?.[3]).toBe('running');
    expect(containerPids('w1')).toEqual(before);
  });

  it('adds a worker, w2, ready when the command returns', async () => {
    expect(await scriptOk('add-worker')).toBe('w2\n');
    expect((await nodes()).find((n) => n.description?.hostname === 'w2')?.status?.state).toBe('NODE_STATE_READY');
  });

  it('takes everything down, and again on nothing', async () => {
    await scriptOk('down');
    expect((await runCommand('ip', ['netns', 'list'])).stdout).not.toMatch(new RegExp(`^${NAME}-`, 'm'));
    expect(processesNaming(NAME)).toEqual([]);
    for (const pid of containers) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(cgroupDirs()).toEqual([]);
    expect((await runCommand('mount', [])).stdout).not.toContain(`shoal-local/${NAME}`);
    expect(existsSync(`/run/shoal-local/${NAME}`)).toBe(false);
    expect(existsSync(dir)).toBe(false);

    await scriptOk('down');
  });
});
