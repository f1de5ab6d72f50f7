/**
 * The agent's answers to log subscriptions, against the fake manager over real gRPC and the
 * scripted executor's in-memory logs: what a subscription asks is published on PublishLogs and
 * closed; a following one goes on until it is cancelled, which stops the executor's reader.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogStream } from '../../proto/gen/logs.js';
import { TaskState } from '../../proto/gen/objects.js';
import { waitFor } from '../../test/support/wait-for.js';
import { Agent } from './agent.js';
import { FakeManager } from './testing/fake-manager.js';
import { ScriptedExecutor } from './testing/scripted-executor.js';
import { LogPublisher, type LogSink } from './log-publisher.js';
import type { PublishLogsRequest } from '../../proto/gen/dispatcher.js';
import { silentLogger } from '../common/logger.js';
import { Task } from '../../proto/gen/objects.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(): Promise<{ m: FakeManager; agent: Agent; executor: ScriptedExecutor }> {
  const m = await FakeManager.start();
  cleanups.push(() => m.close());
  const dir = mkdtempSync(join(tmpdir(), 'shoal-agent-logs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const executor = new ScriptedExecutor();
  const agent = await Agent.start({ managers: [m.address], stateDir: dir, executor, joinToken: m.joinToken(), statusBatchMs: 5 });
  cleanups.push(() => agent.stop());
  await waitFor('the session', () => agent.status().manager !== undefined);
  for (const id of ['t1', 't2']) m.assign(agent.nodeId, id, { serviceId: 'svc', slot: id === 't1' ? 1 : 2 });
  await waitFor('both tasks running', () => ['t1', 't2'].every((id) => m.task(agent.nodeId, id)?.status?.state === TaskState.TASK_STATE_RUNNING));
  return { m, agent, executor };
}

const texts = (m: FakeManager, subscriptionId: string): string[] =>
  m.published.filter((r) => r.subscriptionId === subscriptionId).flatMap((r) => r.messages.map((msg) => `${msg.taskId}:${msg.data.toString()}`));

describe('log subscriptions on the agent', () => {
  it('publishes the tail of each named task with its context, reports a task it lacks, then closes', async () => {
    const { m, agent, executor } = await setup();
    for (const n of [1, 2, 3]) executor.writeLog('t1', `one-${n}\n`);
    executor.writeLog('t2', 'two\n', 'stderr');
    m.subscribeLogs(agent.nodeId, { id: 's1', taskIds: ['t1', 't2', 'nope'], options: { follow: false, tail: 2, since: '' }, cancelled: false });
    await waitFor('the publication to end', () => m.publicationsEnded.get('s1') === true);
    expect(texts(m, 's1').sort()).toEqual(['t1:one-2\n', 't1:one-3\n', 't2:two\n']);
    const requests = m.published.filter((r) => r.subscriptionId === 's1');
    expect(requests.at(-1)?.close).toBe(true);
    expect(requests.map((r) => r.error).filter(Boolean)).toEqual(['task nope is no longer on this node: it finished, and its container and log were removed']);
    const two = requests.flatMap((r) => r.messages).find((msg) => msg.taskId === 't2');
    expect(two).toMatchObject({ serviceId: 'svc', nodeId: agent.nodeId, slot: 2, stream: LogStream.LOG_STREAM_STDERR });
  });

  it('follows until the subscription is cancelled, which stops the readers and ends the call', async () => {
    const { m, agent, executor } = await setup();
    executor.writeLog('t1', 'before\n');
    m.subscribeLogs(agent.nodeId, { id: 's2', taskIds: ['t1'], options: { follow: true, tail: 0, since: '' }, cancelled: false });
    await waitFor('the reader to open', () => executor.openLogReaders.get('t1') === 1);
    executor.writeLog('t1', 'after\n');
    await waitFor('the new line', () => texts(m, 's2').includes('t1:after\n'));
    expect(texts(m, 's2')).toEqual(['t1:after\n']);
    m.subscribeLogs(agent.nodeId, { id: 's2', taskIds: [], options: undefined, cancelled: true });
    await waitFor('the reader to stop', () => executor.openLogReaders.get('t1') === 0);
    await waitFor('the call to end', () => m.publicationsEnded.has('s2'));
    expect(m.published.some((r) => r.subscriptionId === 's2' && r.close)).toBe(false);
  });
});

describe('LogPublisher', () => {
  it('stops pulling a reader while the stream asks it to wait, and goes on after drain', async () => {
    const executor = new ScriptedExecutor();
    for (let i = 0; i < 10; i++) executor.writeLog('t1', `${i}\n`);
    const written: PublishLogsRequest[] = [];
    let onDrain: (() => void) | undefined;
    let ended = false;
    const sink: LogSink = {
      write: (request) => {
        written.push(request);
        return false;
      },
      once: (_event, listener) => (onDrain = listener),
      end: () => (ended = true),
      cancel: () => undefined,
    };
    const task = Task.fromPartial({ meta: { id: 't1' } });
    const publisher = new LogPublisher({
      executor,
      task: () => task,
      nodeId: () => 'n1',
      open: () => ({ sessionId: 'x', sink }),
      logger: silentLogger,
      batchLines: 2,
    });
    publisher.handle({ id: 's', taskIds: ['t1'], options: { follow: false, tail: -1, since: '' }, cancelled: false });
    await waitFor('the first batch', () => written.length === 1);
    // Held back: no second batch while the stream has not drained.
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toHaveLength(1);
    while (!ended) {
      const drain = onDrain;
      onDrain = undefined;
      drain?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(written.flatMap((r) => r.messages.map((m) => m.data.toString()))).toEqual([...Array(10).keys()].map((i) => `${i}\n`));
    expect(written.at(-1)?.close).toBe(true);
  });
});
