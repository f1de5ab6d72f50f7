/**
 * `shoal service logs` / `shoal task logs` end to end: three manager processes, a service on two
 * real `shoal worker --executor fake` processes (whose fake executor keeps a log of what it
 * simulates), the CLI talking to a FOLLOWER, which relays the leader's stream.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, SHOAL_JS } from '../support/daemon-process.js';
import type { ManagerProcess } from '../support/manager-process.js';
import { isRunnable, isRunning, type TaskJson } from '../support/task-json.js';
import { TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait-for.js';
import { WorkerProcess } from '../support/worker-process.js';

let cluster: TestCluster;
let follower: ManagerProcess;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  cluster = await TestCluster.start({ managers: 3 });
  for (const name of ['la', 'lb']) {
    workers.push(WorkerProcess.start({ dir: join(cluster.root, name), managers: cluster.addresses, token: cluster.workerToken, hostname: name, labels: { group: 'logs' } }));
  }
  await waitFor('both workers to be READY', async () => {
    const nodes = await cluster.json<{ description?: { hostname?: string }; status?: { state?: string } }[]>(['node', 'ls']);
    return ['la', 'lb'].every((name) => nodes.some((n) => n.description?.hostname === name && n.status?.state === 'NODE_STATE_READY'));
  }, 30_000, 100);
  const leader = await cluster.waitForLeader();
  follower = cluster.managers.find((m) => m !== leader && m.alive)!;
  await cluster.ok(['service', 'create', '--detach', '--name', 'chatty', '--replicas', '2', '--constraint', 'engine.labels.group==logs', '--replicas-max-per-node', '1', 'app:1']);
  await waitFor('2 running tasks', async () => {
    const tasks = (await cluster.json<TaskJson[]>(['service', 'ps', 'chatty'])).filter(isRunnable);
    return tasks.length === 2 && tasks.every(isRunning);
  }, 30_000, 100);
}, 120_000);

afterAll(async () => {
  for (const worker of workers) {
    await worker.stop();
    worker.killTasks();
  }
  await cluster?.close();
});

describe('logs through a follower', () => {
  it('service logs prints every task’s lines with its prefix; an unknown service is one error', async () => {
    const r = await cluster.cli(['service', 'logs', 'chatty'], follower);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').sort();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^chatty\.1\.[a-z0-9]{12}@l[ab] {4}\| fake task started: app:1$/);
    expect(lines[1]).toMatch(/^chatty\.2\.[a-z0-9]{12}@l[ab] {4}\| fake task started: app:1$/);
    expect(new Set(lines.map((l) => /@(l[ab])/.exec(l)?.[1]))).toEqual(new Set(['la', 'lb']));

    const missing = await cluster.cli(['service', 'logs', 'nope'], follower);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('shoal: service nope not found');
  });

  it('task logs prints one task’s lines, with timestamps when asked', async () => {
    const r = await cluster.cli(['task', 'logs', '-t', 'chatty.1'], follower);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z chatty\.1\.[a-z0-9]{12}@l[ab] {4}\| fake task started: app:1\n$/);
  });

  it('-f receives a line written after it started, and ends cleanly when interrupted', async () => {
    // --since 0s: from the moment the command starts, however long the subscription takes to reach the workers.
    const child = spawn(process.execPath, [SHOAL_JS, '--host', follower.host, 'service', 'logs', '-f', '--since', '0s', 'chatty'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const publishing = (w: WorkerProcess): number => w.log().split('\n').filter((l) => l.includes('"agent: publishing logs"')).length;
    const before = workers.map(publishing);
    try {
      await waitFor('both workers to publish for the subscription', () => workers.every((w, i) => publishing(w) > before[i]!), 30_000, 50);
      // A rolling update stops the old tasks (each logs it) and starts new ones, whose logs -f takes up too.
      await cluster.ok(['service', 'update', '--detach', '--image', 'app:2', 'chatty']);
      await waitFor('the old tasks stopping and the new ones starting', () => {
        const count = (re: RegExp) => stdout.split('\n').filter((l) => re.test(l)).length;
        return count(/^chatty\.[12]\.[a-z0-9]{12}@l[ab] {4}\| fake task stopping: SIGTERM$/) === 2 && count(/\| fake task started: app:2$/) === 2;
      }, 40_000, 50).catch((err: unknown) => {
        throw new Error(`${String(err)}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      });
      expect(stdout).not.toMatch(/started: app:1/);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  }, 90_000);
});
