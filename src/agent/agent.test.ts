/**
 * The agent against the real Dispatcher (in this process, over a test store) with a scripted
 * executor: assignments in, statuses out, restarts and node removal. The same agent against a real
 * manager process with real processes is agent.integration.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeState, TaskState } from '../../proto/gen/objects.js';
import { waitFor } from '../../test/support/wait-for.js';
import { Agent, type AgentOptions } from './agent.js';
import { loadAgentState } from './state.js';
import { ScriptedExecutor } from './testing/scripted-executor.js';
import { assignTask, setDesiredState, startInProcessManager, storedTask, type InProcessManager } from './testing/in-process-manager.js';

const S = TaskState;
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function manager(): Promise<InProcessManager> {
  const m = await startInProcessManager({ active: true });
  cleanups.push(() => m.close());
  return m;
}

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-agent-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startAgent(opts: Pick<AgentOptions, 'managers' | 'stateDir' | 'executor'>): Promise<Agent> {
  const agent = await Agent.start({ ...opts, hostname: 'agent-1', labels: { zone: 'a' }, statusBatchMs: 5, reconnectBackoff: { initialMs: 10, maxMs: 50 } });
  cleanups.push(() => agent.stop());
  return agent;
}

const stateOf = (m: InProcessManager, id: string) => storedTask(m, id)?.status?.state;

describe('Agent', () => {
  it('registers with the host description, runs its assignments and reports their states', async () => {
    const m = await manager();
    const executor = new ScriptedExecutor();
    const agent = await startAgent({ managers: [m.address], stateDir: stateDir(), executor });
    await waitFor('registration', () => agent.status().manager !== undefined);
    const node = m.store.view((tx) => tx.nodes.get(agent.nodeId));
    expect(node?.description).toMatchObject({ hostname: 'agent-1', labels: { zone: 'a' }, platform: { os: 'linux' } });
    expect(node?.description?.resources?.nanoCpus).toBeGreaterThan(0);

    await assignTask(m, 't1', agent.nodeId);
    await assignTask(m, 't2', agent.nodeId, { desiredState: S.TASK_STATE_READY });
    await waitFor('t1 RUNNING, t2 READY', () => stateOf(m, 't1') === S.TASK_STATE_RUNNING && stateOf(m, 't2') === S.TASK_STATE_READY);
    expect(storedTask(m, 't1')?.status?.pid).toBe(1000);

    await setDesiredState(m, 't1', S.TASK_STATE_SHUTDOWN);
    await waitFor('t1 SHUTDOWN', () => stateOf(m, 't1') === S.TASK_STATE_SHUTDOWN);
    // Finished and wanted down, it leaves the node's set and is removed from the executor.
    await waitFor('t1 removed', () => executor.calls.includes('remove t1'));
    expect(agent.status().tasks.has('t1')).toBe(false);
  });

  it('resumes after a restart: same node, same processes, nothing started again', async () => {
    const m = await manager();
    const dir = stateDir();
    const executor = new ScriptedExecutor();
    const first = await startAgent({ managers: [m.address], stateDir: dir, executor });
    await waitFor('registration', () => first.status().manager !== undefined);
    await assignTask(m, 't1', first.nodeId);
    await waitFor('t1 RUNNING', () => stateOf(m, 't1') === S.TASK_STATE_RUNNING);
    await first.stop();
    expect(loadAgentState(dir)).toMatchObject({ nodeId: first.nodeId, tasks: [{ status: { state: S.TASK_STATE_RUNNING, pid: 1000 } }] });
    const calls = executor.calls.length;

    // While it was away its task exited.
    executor.exit('t1', { exitCode: 3 });
    const second = await startAgent({ managers: [m.address], stateDir: dir, executor });
    expect(second.nodeId).toBe(first.nodeId);
    await waitFor('t1 FAILED', () => stateOf(m, 't1') === S.TASK_STATE_FAILED);
    expect(storedTask(m, 't1')?.status).toMatchObject({ exitCode: 3, err: 'task failed: exit code 3' });
    expect(executor.calls.slice(calls).filter((c) => c.startsWith('start'))).toEqual([]);
    expect(m.store.view((tx) => tx.nodes.count())).toBe(1);
  });

  it('tells the managers what they missed while it was cut off, even across a restart', async () => {
    const m = await manager();
    const dir = stateDir();
    const executor = new ScriptedExecutor();
    const first = await startAgent({ managers: [m.address], stateDir: dir, executor });
    await waitFor('registration', () => first.status().manager !== undefined);
    await assignTask(m, 't1', first.nodeId);
    await waitFor('t1 RUNNING', () => stateOf(m, 't1') === S.TASK_STATE_RUNNING);
    // Cut off, the task completes; the agent restarts before it could report that.
    m.dispatcher.stop();
    await waitFor('the session to drop', () => first.status().manager === undefined);
    executor.exit('t1', { exitCode: 0 });
    await waitFor('t1 COMPLETE locally', () => first.status().tasks.get('t1')?.state === S.TASK_STATE_COMPLETE);
    expect(first.status().unreported).toBe(1);
    await first.stop();
    m.dispatcher.start();
    const second = await startAgent({ managers: [m.address], stateDir: dir, executor });
    await waitFor('t1 COMPLETE at the manager', () => stateOf(m, 't1') === S.TASK_STATE_COMPLETE);
    expect(second.status().unreported).toBe(0);
  });

  it('stops and removes its tasks and forgets its id when the node is removed from the cluster', async () => {
    const m = await manager();
    const dir = stateDir();
    const executor = new ScriptedExecutor();
    const agent = await startAgent({ managers: [m.address], stateDir: dir, executor });
    await waitFor('registration', () => agent.status().manager !== undefined);
    await assignTask(m, 't1', agent.nodeId);
    await waitFor('t1 RUNNING', () => stateOf(m, 't1') === S.TASK_STATE_RUNNING);
    await m.store.update((tx) => tx.nodes.delete(tx.nodes.get(agent.nodeId)!));
    const end = await agent.done;
    expect(end).toMatchObject({ kind: 'removed' });
    expect(executor.isRunning('t1')).toBe(false);
    expect(executor.calls).toContain('remove t1');
    expect(loadAgentState(dir)).toMatchObject({ nodeId: '', tasks: [] });
  });

  it('keeps running its tasks while no manager answers', async () => {
    const m = await manager();
    const executor = new ScriptedExecutor();
    const agent = await startAgent({ managers: [m.address], stateDir: stateDir(), executor });
    await waitFor('registration', () => agent.status().manager !== undefined);
    await assignTask(m, 't1', agent.nodeId);
    await waitFor('t1 RUNNING', () => stateOf(m, 't1') === S.TASK_STATE_RUNNING);
    m.dispatcher.stop();
    await waitFor('the session to drop', () => agent.status().manager === undefined);
    executor.exit('t1', { exitCode: 0 });
    await waitFor('t1 COMPLETE locally', () => agent.status().tasks.get('t1')?.state === S.TASK_STATE_COMPLETE);
    expect(stateOf(m, 't1')).toBe(S.TASK_STATE_RUNNING);
    m.dispatcher.start();
    await waitFor('t1 COMPLETE at the manager', () => stateOf(m, 't1') === S.TASK_STATE_COMPLETE);
    expect(m.store.view((tx) => tx.nodes.get(agent.nodeId)?.status?.state)).toBe(NodeState.NODE_STATE_READY);
  });
});
