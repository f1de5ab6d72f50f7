/**
 * The real agent in this process, with the FakeExecutor's real (sleep) processes, against a real
 * manager process (started with --init) driven through the real CLI: the agent joins with the
 * worker token the CLI prints and speaks mutual TLS from then on; tasks run, scale down stops their processes, an
 * agent restart keeps the same processes, and a killed process is reported and replaced.
 * Build first (`npm run build`): the manager runs from dist/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState } from '../../proto/gen/objects.js';
import { isRunnable, isRunning, observed, type TaskJson } from '../../test/support/task-json.js';
import { TestCluster } from '../../test/support/test-cluster.js';
import { waitFor } from '../../test/support/wait-for.js';
import { Agent } from './agent.js';
import { FakeExecutor } from './fake-executor.js';
import { isAlive } from '../common/proc-stat.js';

/** A task as `service ps --format json` shows it, with the status fields this test reads. */
interface AgentTaskJson extends TaskJson {
  status?: TaskJson['status'] & { pid?: number; exitCode?: number };
}

const root = mkdtempSync(join(tmpdir(), 'shoal-agent-it-'));
const stateDir = join(root, 'agent');
const executorDir = join(stateDir, 'fake-executor');
let cluster: TestCluster | undefined;
let agent: Agent | undefined;
let joinToken = '';

async function startAgent(): Promise<Agent> {
  return Agent.start({
    stateDir,
    managers: cluster!.addresses,
    joinToken,
    executor: new FakeExecutor({ stateDir: executorDir, pollMs: 50 }),
    hostname: 'agent-it',
    labels: { group: 'agent' },
    statusBatchMs: 20,
  });
}

beforeAll(async () => {
  cluster = await TestCluster.start({ managers: 1 });
  joinToken = (await cluster.ok(['cluster', 'join-token', '-q', 'worker'])).trim();
  agent = await startAgent();
  await waitFor('the agent to register', () => agent!.status().manager !== undefined);
});

afterAll(async () => {
  try {
    await agent?.stop();
  } finally {
    // Whatever happened, no task process outlives the test.
    FakeExecutor.killAll(executorDir);
    await cluster?.close();
    rmSync(root, { recursive: true, force: true });
  }
});

const ps = (): Promise<AgentTaskJson[]> => cluster!.json<AgentTaskJson[]>(['service', 'ps', 'web']);
const pidOf = (t: AgentTaskJson): number => t.status?.pid ?? 0;
const idOf = (t: AgentTaskJson): string => t.meta?.id ?? '';

async function runningTasks(count: number): Promise<AgentTaskJson[]> {
  let running: AgentTaskJson[] = [];
  await waitFor(`${count} running tasks`, async () => {
    const tasks = await ps();
    running = tasks.filter(isRunning);
    return running.length === count && tasks.filter(isRunnable).length === count;
  }, 30_000, 100);
  return running;
}

describe('the agent with a real manager and real processes', () => {
  it('runs a service’s tasks as processes of their own', async () => {
    await cluster!.ok(['service', 'create', '--detach', '--name', 'web', '--replicas', '3', '--constraint', 'engine.labels.group==agent', '--restart-delay', '100ms', 'app:1']);
    const running = await runningTasks(3);
    const pids = running.map(pidOf);
    expect(new Set(pids).size).toBe(3);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
    expect(running.every((t) => t.nodeId === agent!.nodeId)).toBe(true);
  });

  it('refuses to join with a manager token or a rotated-away worker token', async () => {
    const managerToken = (await cluster!.ok(['cluster', 'join-token', '-q', 'manager'])).trim();
    const dir = join(root, 'refused');
    const attempt = (token: string) => Agent.start({ stateDir: dir, managers: cluster!.addresses, joinToken: token, executor: new FakeExecutor({ stateDir: join(dir, 'fake-executor') }) });
    await expect(attempt(managerToken)).rejects.toThrow(/manager join token/);
    const before = joinToken;
    await cluster!.ok(['cluster', 'join-token', '--rotate', 'worker']);
    await expect(attempt(before)).rejects.toThrow(/invalid join token/);
    // The node that joined with it keeps its certificate, and its session.
    expect(agent!.status().manager).toBeDefined();
  });

  it('stops the processes of the tasks a scale-down removes', async () => {
    const before = await runningTasks(3);
    await cluster!.ok(['service', 'scale', '--detach', 'web=1']);
    const [kept] = await runningTasks(1);
    const removed = before.filter((t) => idOf(t) !== idOf(kept!));
    expect(removed).toHaveLength(2);
    await waitFor('the removed tasks’ processes to end', () => removed.every((t) => !isAlive(pidOf(t))));
    // Reported SHUTDOWN; the reaper may already have deleted them (it only takes finished tasks).
    await waitFor('the removed tasks to be reported SHUTDOWN', async () => {
      const tasks = await ps();
      return removed.every((r) => {
        const task = tasks.find((t) => idOf(t) === idOf(r));
        return task === undefined || observed(task) === TaskState.TASK_STATE_SHUTDOWN;
      });
    });
    // Once they leave the node's assignments, the executor forgets them too.
    const executor = new FakeExecutor({ stateDir: executorDir });
    await waitFor('the executor to remove them', async () => (await Promise.all(removed.map((t) => executor.inspect(idOf(t))))).every((i) => i === undefined));
    expect(isAlive(pidOf(kept!))).toBe(true);
  });

  it('keeps the same processes across an agent restart, and reports them RUNNING', async () => {
    const [before] = await runningTasks(1);
    const nodeId = agent!.nodeId;
    await agent!.stop();
    expect(isAlive(pidOf(before!))).toBe(true);
    // The saved certificate is enough: the (rotated-away) token is not used again.
    agent = await startAgent();
    expect(agent.nodeId).toBe(nodeId);
    await waitFor('the agent to reconnect', () => agent!.status().manager !== undefined);
    expect(agent.status().tasks.get(idOf(before!))).toMatchObject({ state: TaskState.TASK_STATE_RUNNING, pid: pidOf(before!) });
    const [after] = await runningTasks(1);
    expect(idOf(after!)).toBe(idOf(before!));
    expect(pidOf(after!)).toBe(pidOf(before!));
    expect(isAlive(pidOf(before!))).toBe(true);
  });

  it('reports a killed process FAILED with its exit code, and the manager replaces the task', async () => {
    const [victim] = await runningTasks(1);
    process.kill(pidOf(victim!), 'SIGKILL');
    let failed: AgentTaskJson | undefined;
    await waitFor('the task to be reported FAILED', async () => {
      failed = (await ps()).find((t) => idOf(t) === idOf(victim!));
      return observed(failed ?? {}) === TaskState.TASK_STATE_FAILED;
    });
    expect(failed?.status).toMatchObject({ exitCode: 137, err: 'task failed: exit code 137' });
    const [replacement] = await runningTasks(1);
    expect(idOf(replacement!)).not.toBe(idOf(victim!));
    expect(replacement!.slot).toBe(victim!.slot);
    expect(isAlive(pidOf(replacement!))).toBe(true);
  });
});
