/**
 * The agent against a fake manager (the real NodeCA and a scripted Dispatcher over real gRPC with
 * mutual TLS, in this process) with a scripted executor: joining, assignments in, statuses out,
 * restarts, certificate renewal and node removal. The same agent against a real manager process
 * with real processes is agent.integration.test.ts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskState } from '../../proto/gen/objects.js';
import { waitFor } from '../../test/support/wait-for.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { rotateJoinToken } from '../manager/ca/ca-state.js';
import { loadNodeCredentials, NODE_CREDENTIALS_FILE } from '../manager/ca/node-credentials.js';
import { Agent, type AgentOptions } from './agent.js';
import { JoinError } from './credentials.js';
import { loadAgentState } from './state.js';
import { ScriptedExecutor } from './testing/scripted-executor.js';
import { FakeManager, type FakeManagerOptions } from './testing/fake-manager.js';

const S = TaskState;
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function manager(opts: FakeManagerOptions = {}): Promise<FakeManager> {
  const m = await FakeManager.start(opts);
  cleanups.push(() => m.close());
  return m;
}

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-agent-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

type StartOptions = Pick<AgentOptions, 'managers' | 'stateDir' | 'executor'> & Partial<AgentOptions>;

async function startAgent(opts: StartOptions): Promise<Agent> {
  const agent = await Agent.start({ hostname: 'agent-1', labels: { zone: 'a' }, statusBatchMs: 5, reconnectBackoff: { initialMs: 10, maxMs: 50 }, ...opts });
  cleanups.push(() => agent.stop());
  return agent;
}

const online = (agent: Agent) => waitFor('the session', () => agent.status().manager !== undefined);
const stateOf = (m: FakeManager, agent: Agent, id: string) => m.task(agent.nodeId, id)?.status?.state;

describe('Agent', () => {
  it('joins with the token, registers with the host description, runs its assignments and reports their states', async () => {
    const m = await manager();
    const dir = stateDir();
    const executor = new ScriptedExecutor();
    const agent = await startAgent({ managers: [m.address], stateDir: dir, executor, joinToken: m.joinToken() });
    expect(m.joined).toEqual([{ nodeId: agent.nodeId, role: 'worker', clusterId: m.state.clusterId }]);
    expect(loadNodeCredentials(dir)?.nodeId).toBe(agent.nodeId);
    await online(agent);
    const description = m.liveSession(agent.nodeId)?.description;
    expect(description).toMatchObject({ hostname: 'agent-1', labels: { zone: 'a' }, platform: { os: 'linux' } });
    expect(description?.resources?.nanoCpus).toBeGreaterThan(0);

    m.assign(agent.nodeId, 't1');
    m.assign(agent.nodeId, 't2', { desiredState: S.TASK_STATE_READY });
    await waitFor('t1 RUNNING, t2 READY', () => stateOf(m, agent, 't1') === S.TASK_STATE_RUNNING && stateOf(m, agent, 't2') === S.TASK_STATE_READY);
    expect(m.task(agent.nodeId, 't1')?.status?.pid).toBe(1000);

    m.setDesiredState(agent.nodeId, 't1', S.TASK_STATE_SHUTDOWN);
    await waitFor('t1 SHUTDOWN', () => stateOf(m, agent, 't1') === S.TASK_STATE_SHUTDOWN);
    // A change that takes it off the node: it is removed from the executor.
    m.unassign(agent.nodeId, 't1');
    await waitFor('t1 removed', () => executor.calls.includes('remove t1'));
    expect(agent.status().tasks.has('t1')).toBe(false);
    expect(agent.status().tasks.has('t2')).toBe(true);
  });

  it('refuses to start without a certificate or a token, saying to pass --token', async () => {
    const m = await manager();
    const dir = stateDir();
    await expect(Agent.start({ managers: [m.address], stateDir: dir, executor: new ScriptedExecutor() })).rejects.toThrow(/pass --token/);
    expect(m.joined).toEqual([]);
  });

  it('gives one clear error for a rotated token, a manager token or another cluster’s token, and saves nothing', async () => {
    const m = await manager();
    const other = await manager();
    const rotatedAway = m.joinToken();
    m.state = rotateJoinToken(m.state, 'worker');
    const cases: [string, RegExp][] = [
      [rotatedAway, /refused the join token: invalid join token/],
      [m.joinToken('manager'), /this is a manager join token; a worker cannot join with it/],
      [other.joinToken(), /join token pins .*refusing to trust it/],
      ['SHTKN-garbage', /join token/],
    ];
    for (const [joinToken, error] of cases) {
      const dir = stateDir();
      const attempt = Agent.start({ managers: [m.address], stateDir: dir, executor: new ScriptedExecutor(), joinToken });
      await expect(attempt).rejects.toThrow(JoinError);
      await expect(attempt).rejects.toThrow(error);
      expect(existsSync(join(dir, NODE_CREDENTIALS_FILE))).toBe(false);
    }
    expect(m.joined).toEqual([]);
  });

  it('joins through the next manager when the first does not answer', async () => {
    const m = await manager();
    const dead = await FakeManager.start({ state: m.state });
    await dead.close();
    const agent = await startAgent({ managers: [dead.address, m.address], stateDir: stateDir(), executor: new ScriptedExecutor(), joinToken: m.joinToken() });
    expect(m.joined.map((n) => n.nodeId)).toEqual([agent.nodeId]);
  });

  it('resumes after a restart as the same node from its saved certificate: same processes, nothing started again', async () => {
    const m = await manager();
    const dir = stateDir();
    const executor = new ScriptedExecutor();
    const first = await startAgent({ managers: [m.address], stateDir: dir, executor, joinToken: m.joinToken() });
    await online(first);
    m.assign(first.nodeId, 't1');
    m.assign(first.nodeId, 't2');
    await waitFor('t1, t2 RUNNING', () => stateOf(m, first, 't1') === S.TASK_STATE_RUNNING && stateOf(m, first, 't2') === S.TASK_STATE_RUNNING);
    await first.stop();
    expect(loadAgentState(dir).tasks.map((t) => t.status)).toMatchObject([{ state: S.TASK_STATE_RUNNING, pid: 1000 }, { state: S.TASK_STATE_RUNNING, pid: 1001 }]);
    const calls = executor.calls.length;

    // While it was away t1 exited, and the managers moved t2 elsewhere; none of them answers yet.
    executor.exit('t1', { exitCode: 3 });
    m.setQuietly(first.nodeId, [m.task(first.nodeId, 't1')!]);
    m.deactivate();
    // The token is not needed any more: given anyway, it is ignored (no second join).
    const second = await startAgent({ managers: [m.address], stateDir: dir, executor, joinToken: 'SHTKN-not-used' });
    expect(second.nodeId).toBe(first.nodeId);
    expect(m.joined).toHaveLength(1);
    await waitFor('t1 FAILED locally', () => second.status().tasks.get('t1')?.state === S.TASK_STATE_FAILED);
    // Without a full set, t2 is still its own: it keeps running.
    expect(executor.isRunning('t2')).toBe(true);
    expect(second.status().tasks.get('t2')?.state).toBe(S.TASK_STATE_RUNNING);

    m.activate();
    await waitFor('t1 FAILED at the manager', () => stateOf(m, second, 't1') === S.TASK_STATE_FAILED);
    expect(m.task(second.nodeId, 't1')?.status).toMatchObject({ exitCode: 3, err: 'task failed: exit code 3' });
    // The first full set does not list t2: it is stopped and removed.
    await waitFor('t2 removed', () => executor.calls.includes('remove t2'));
    expect(executor.isRunning('t2')).toBe(false);
    expect(executor.calls.slice(calls).filter((c) => c.startsWith('start'))).toEqual([]);
  });

  it('tells the managers what they missed while it was cut off, even across a restart', async () => {
    const m = await manager();
    const dir = stateDir();
    const executor = new ScriptedExecutor();
    const first = await startAgent({ managers: [m.address], stateDir: dir, executor, joinToken: m.joinToken() });
    await online(first);
    m.assign(first.nodeId, 't1');
    await waitFor('t1 RUNNING', () => stateOf(m, first, 't1') === S.TASK_STATE_RUNNING);
    // Cut off, the task completes; the agent restarts before it could report that.
    m.deactivate();
    await waitFor('the session to drop', () => first.status().manager === undefined);
    executor.exit('t1', { exitCode: 0 });
    await waitFor('t1 COMPLETE locally', () => first.status().tasks.get('t1')?.state === S.TASK_STATE_COMPLETE);
    expect(first.status().unreported).toBe(1);
    await first.stop();
    m.activate();
    const second = await startAgent({ managers: [m.address], stateDir: dir, executor });
    await waitFor('t1 COMPLETE at the manager', () => stateOf(m, second, 't1') === S.TASK_STATE_COMPLETE);
    expect(second.status().unreported).toBe(0);
  });

  it('renews its certificate at half its lifetime, saves it and opens a new session with it', async () => {
    const hour = 3_600_000;
    const m = await manager({ certificateLifetimeMs: hour });
    const dir = stateDir();
    const clock = new FakeClock();
    const agent = await startAgent({ managers: [m.address], stateDir: dir, executor: new ScriptedExecutor(), joinToken: m.joinToken(), clock });
    await online(agent);
    const before = loadNodeCredentials(dir)!;
    // Not before half the lifetime (the CA backdates certificates a few minutes, so a little less remains).
    clock.advance(hour / 2 - 6 * 60_000);
    expect(m.renewals).toBe(0);
    clock.advance(6 * 60_000);
    await waitFor('the renewal', () => m.renewals === 1 && loadNodeCredentials(dir)!.certPem !== before.certPem);
    const after = loadNodeCredentials(dir)!;
    expect(after.nodeId).toBe(before.nodeId);
    expect(after.keyPem).not.toBe(before.keyPem);
    await waitFor('a session with the new certificate', () => m.sessions.length === 2 && m.liveSession(agent.nodeId) === m.sessions[1]);
    expect(m.sessions[1]!.certificateFingerprint).not.toBe(m.sessions[0]!.certificateFingerprint);
  });

  it('stops and removes its tasks and deletes its certificate when the node is removed from the cluster', async () => {
    const m = await manager();
    const dir = stateDir();
    const executor = new ScriptedExecutor();
    const agent = await startAgent({ managers: [m.address], stateDir: dir, executor, joinToken: m.joinToken() });
    await online(agent);
    m.assign(agent.nodeId, 't1');
    await waitFor('t1 RUNNING', () => stateOf(m, agent, 't1') === S.TASK_STATE_RUNNING);
    m.removeNode(agent.nodeId);
    const end = await agent.done;
    expect(end).toMatchObject({ kind: 'removed', message: `node ${agent.nodeId} was removed from the cluster` });
    expect(executor.isRunning('t1')).toBe(false);
    expect(executor.calls).toContain('remove t1');
    expect(loadAgentState(dir).tasks).toEqual([]);
    expect(loadNodeCredentials(dir)).toBeUndefined();
  });

  it('keeps running its tasks while no manager answers', async () => {
    const m = await manager();
    const executor = new ScriptedExecutor();
    const agent = await startAgent({ managers: [m.address], stateDir: stateDir(), executor, joinToken: m.joinToken() });
    await online(agent);
    m.assign(agent.nodeId, 't1');
    await waitFor('t1 RUNNING', () => stateOf(m, agent, 't1') === S.TASK_STATE_RUNNING);
    m.deactivate();
    await waitFor('the session to drop', () => agent.status().manager === undefined);
    executor.exit('t1', { exitCode: 0 });
    await waitFor('t1 COMPLETE locally', () => agent.status().tasks.get('t1')?.state === S.TASK_STATE_COMPLETE);
    expect(stateOf(m, agent, 't1')).toBe(S.TASK_STATE_RUNNING);
    m.activate();
    await waitFor('t1 COMPLETE at the manager', () => stateOf(m, agent, 't1') === S.TASK_STATE_COMPLETE);
  });
});
