import { describe, expect, it } from 'vitest';
import type { TaskStatusUpdate } from '../../proto/gen/dispatcher.js';
import { TaskState, type TaskStatus } from '../../proto/gen/objects.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { StatusReporter } from './status-reporter.js';

const status = (state: TaskState): TaskStatus => ({ state, timestamp: 1, message: '', err: '', exitCode: 0, health: 0, containerId: '', pid: 0 });

/** A manager whose answers the test gives one call at a time. */
class FakeSend {
  readonly calls: TaskStatusUpdate[][] = [];
  private answers: { resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly send = (updates: TaskStatusUpdate[]): Promise<void> =>
    new Promise((resolve, reject) => {
      this.calls.push(updates);
      this.answers.push({ resolve, reject });
    });
  async accept(): Promise<void> {
    this.answers.shift()!.resolve();
    await settle();
  }
  async refuse(): Promise<void> {
    this.answers.shift()!.reject(new Error('UNAVAILABLE'));
    await settle();
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const summary = (updates: TaskStatusUpdate[]) => updates.map((u) => `${u.taskId}:${u.status?.state}`);

describe('StatusReporter', () => {
  it('gathers reports for one batch period and keeps only each task\'s newest', async () => {
    const clock = new FakeClock();
    const fake = new FakeSend();
    const reporter = new StatusReporter({ clock, batchMs: 100 });
    reporter.online(fake.send);
    reporter.report('a', status(TaskState.TASK_STATE_ACCEPTED));
    reporter.report('b', status(TaskState.TASK_STATE_ACCEPTED));
    clock.advance(50);
    reporter.report('a', status(TaskState.TASK_STATE_PREPARING));
    expect(fake.calls).toHaveLength(0);
    clock.advance(50);
    expect(fake.calls.map(summary)).toEqual([['b:3', 'a:4']]);
    await fake.accept();
    expect(reporter.backlog()).toBe(0);
  });

  it('sends at once when a full batch is waiting, one call at a time', async () => {
    const clock = new FakeClock();
    const fake = new FakeSend();
    const reporter = new StatusReporter({ clock, batchMs: 100, maxBatch: 3 });
    reporter.online(fake.send);
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) reporter.report(id, status(TaskState.TASK_STATE_RUNNING));
    expect(fake.calls.map(summary)).toEqual([['a:7', 'b:7', 'c:7']]);
    await fake.accept();
    expect(fake.calls.map(summary)[1]).toEqual(['d:7', 'e:7', 'f:7']);
    await fake.accept();
    // One left: it waits for the batch period.
    expect(fake.calls).toHaveLength(2);
    clock.advance(100);
    expect(fake.calls.map(summary)[2]).toEqual(['g:7']);
  });

  it('puts a refused batch back and retries it, unless newer reports replaced it', async () => {
    const clock = new FakeClock();
    const fake = new FakeSend();
    const reporter = new StatusReporter({ clock, batchMs: 10, retryMs: 500 });
    reporter.online(fake.send);
    reporter.report('a', status(TaskState.TASK_STATE_STARTING));
    reporter.report('b', status(TaskState.TASK_STATE_STARTING));
    clock.advance(10);
    expect(fake.calls).toHaveLength(1);
    reporter.report('a', status(TaskState.TASK_STATE_RUNNING));
    await fake.refuse();
    expect(reporter.backlog()).toBe(2);
    clock.advance(499);
    expect(fake.calls).toHaveLength(1);
    clock.advance(1);
    expect(fake.calls.map(summary)[1].sort()).toEqual(['a:7', 'b:6']);
    await fake.accept();
    expect(reporter.backlog()).toBe(0);
  });

  it('waits out the retry pause after a failure even when a full batch is waiting', async () => {
    const clock = new FakeClock();
    const fake = new FakeSend();
    const reporter = new StatusReporter({ clock, batchMs: 10, maxBatch: 2, retryMs: 500 });
    reporter.online(fake.send);
    reporter.report('a', status(TaskState.TASK_STATE_RUNNING));
    reporter.report('b', status(TaskState.TASK_STATE_RUNNING));
    expect(fake.calls).toHaveLength(1);
    await fake.refuse();
    reporter.report('c', status(TaskState.TASK_STATE_RUNNING));
    expect(fake.calls).toHaveLength(1);
    clock.advance(500);
    expect(fake.calls).toHaveLength(2);
  });

  it('holds reports while offline and sends them on the next session', async () => {
    const clock = new FakeClock();
    const first = new FakeSend();
    const reporter = new StatusReporter({ clock, batchMs: 10 });
    reporter.report('a', status(TaskState.TASK_STATE_RUNNING));
    clock.advance(1_000);
    reporter.online(first.send);
    reporter.offline();
    clock.advance(1_000);
    expect(first.calls).toHaveLength(0);
    const second = new FakeSend();
    reporter.online(second.send);
    clock.advance(10);
    expect(second.calls.map(summary)).toEqual([['a:7']]);
  });

  it('never replaces a queued status with an older one', async () => {
    const clock = new FakeClock();
    const fake = new FakeSend();
    const reporter = new StatusReporter({ clock, batchMs: 10 });
    reporter.report('a', status(TaskState.TASK_STATE_FAILED));
    reporter.report('a', status(TaskState.TASK_STATE_RUNNING));
    reporter.online(fake.send);
    clock.advance(10);
    expect(fake.calls.map(summary)).toEqual([['a:10']]);
  });
});
