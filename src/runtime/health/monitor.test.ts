/**
 * HealthMonitor's rules with a fake clock and a fake probe: time moves only when the test says,
 * and each probe call waits until the test answers it.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../common/testing/fake-clock.js';
import type { HealthCheck } from './healthcheck.js';
import { HealthMonitor, MAX_OUTPUT_BYTES, type HealthResult, type HealthStatus, type Probe, type ProbeResult } from './monitor.js';

/** A fake probe: records each call and leaves it pending until answered. */
class FakeProbe {
  readonly calls: {
    argv: string[];
    timeoutMs: number;
    signal: AbortSignal;
    resolve: (r: ProbeResult) => void;
    reject: (e: Error) => void;
  }[] = [];

  readonly probe: Probe = (argv, timeoutMs, signal) =>
    new Promise((resolve, reject) => this.calls.push({ argv, timeoutMs, signal, resolve, reject }));

  /** Answers the latest call. */
  answer(exitCode: number, output = ''): void {
    const call = this.calls.at(-1);
    if (!call) throw new Error('no probe call to answer');
    call.resolve({ exitCode, output });
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(check: Partial<HealthCheck> = {}) {
  const clock = new FakeClock();
  const fake = new FakeProbe();
  const changes: { status: HealthStatus; result: HealthResult }[] = [];
  const monitor = new HealthMonitor({
    check: { test: ['CMD', 'check'], intervalMs: 1000, timeoutMs: 500, retries: 3, ...check },
    probe: fake.probe,
    clock,
    now: () => clock.wall(),
    onChange: (status, result) => changes.push({ status, result }),
  });
  monitor.start();
  /** Lets the interval pass so the next probe starts, then answers it. */
  const probeOnce = async (exitCode: number, output = ''): Promise<void> => {
    const before = fake.calls.length;
    clock.advance(1000);
    expect(fake.calls.length).toBe(before + 1);
    fake.answer(exitCode, output);
    await settle();
  };
  return { clock, fake, changes, monitor, probeOnce };
}

describe('HealthMonitor', () => {
  it('is starting until the first probe, which runs one interval after start with the check’s argv and timeout', () => {
    const { clock, fake, monitor } = setup({ test: ['CMD-SHELL', 'test -e /ready'] });
    expect(monitor.report()).toEqual({ status: 'starting', failingStreak: 0, log: [] });
    clock.advance(999);
    expect(fake.calls).toHaveLength(0);
    clock.advance(1);
    expect(fake.calls.map(({ argv, timeoutMs }) => ({ argv, timeoutMs }))).toEqual([
      { argv: ['/bin/sh', '-c', 'test -e /ready'], timeoutMs: 500 },
    ]);
  });

  it('turns healthy on a success and tells the listener once', async () => {
    const { changes, monitor, probeOnce } = setup();
    await probeOnce(0, 'ok\n');
    await probeOnce(0, 'ok\n');
    expect(monitor.report().status).toBe('healthy');
    expect(changes.map((c) => [c.status, c.result.output])).toEqual([['healthy', 'ok\n']]);
  });

  it('never overlaps probes: the next runs one interval after the previous ended', async () => {
    const { clock, fake } = setup({ timeoutMs: 60_000 });
    clock.advance(1000);
    clock.advance(10_000); // the probe is still running
    expect(fake.calls).toHaveLength(1);
    fake.answer(0);
    await settle();
    clock.advance(999);
    expect(fake.calls).toHaveLength(1);
    clock.advance(1);
    expect(fake.calls).toHaveLength(2);
  });

  it('turns unhealthy after `retries` failures in a row, and a success resets the count', async () => {
    const { changes, monitor, probeOnce } = setup({ retries: 3 });
    await probeOnce(1);
    await probeOnce(1);
    await probeOnce(0);
    expect(monitor.report()).toMatchObject({ status: 'healthy', failingStreak: 0 });
    await probeOnce(1);
    await probeOnce(2);
    expect(monitor.report()).toMatchObject({ status: 'healthy', failingStreak: 2 });
    await probeOnce(1, 'down\n');
    expect(monitor.report()).toMatchObject({ status: 'unhealthy', failingStreak: 3 });
    expect(changes.map((c) => [c.status, c.result.exitCode, c.result.output])).toEqual([
      ['healthy', 0, ''],
      ['unhealthy', 1, 'down\n'],
    ]);
  });

  it('counts failures from the start as well: retries failures make a starting container unhealthy', async () => {
    const { monitor, probeOnce } = setup({ retries: 2 });
    await probeOnce(1);
    expect(monitor.report()).toMatchObject({ status: 'starting', failingStreak: 1 });
    await probeOnce(1);
    expect(monitor.report()).toMatchObject({ status: 'unhealthy', failingStreak: 2 });
  });

  it('turns healthy again on a success after being unhealthy', async () => {
    const { changes, probeOnce } = setup({ retries: 1 });
    await probeOnce(1);
    await probeOnce(0);
    expect(changes.map((c) => c.status)).toEqual(['unhealthy', 'healthy']);
  });

  it('does not count failures of probes begun in the start period', async () => {
    // Probes begin at 1000, 2000, 3000, ...; the start period covers the first two.
    const { monitor, probeOnce } = setup({ startPeriodMs: 2500, retries: 1 });
    await probeOnce(1);
    await probeOnce(1);
    expect(monitor.report()).toMatchObject({ status: 'starting', failingStreak: 0 });
    expect(monitor.report().log).toHaveLength(2);
    await probeOnce(1);
    expect(monitor.report()).toMatchObject({ status: 'unhealthy', failingStreak: 1 });
  });

  it('judges the start period by when the probe began, not when it ended', async () => {
    const { clock, fake, monitor } = setup({ startPeriodMs: 1500, timeoutMs: 60_000, retries: 1 });
    clock.advance(1000); // begins inside the start period ...
    clock.advance(5000); // ... and ends well after it
    fake.answer(1);
    await settle();
    expect(monitor.report()).toMatchObject({ status: 'starting', failingStreak: 0 });
  });

  it('turns healthy at once on a success in the start period', async () => {
    const { monitor, probeOnce } = setup({ startPeriodMs: 60_000 });
    await probeOnce(1);
    await probeOnce(0);
    expect(monitor.report().status).toBe('healthy');
  });

  it('counts failures in the start period once the container has been healthy', async () => {
    const { monitor, probeOnce } = setup({ startPeriodMs: 60_000, retries: 2 });
    await probeOnce(0);
    await probeOnce(1);
    await probeOnce(1);
    expect(monitor.report()).toMatchObject({ status: 'unhealthy', failingStreak: 2 });
  });

  it('fails a probe that outlives the timeout with -1 and Docker’s message, aborts it and ignores its late answer', async () => {
    const { clock, fake, monitor } = setup({ timeoutMs: 2000, retries: 1 });
    clock.advance(1000);
    clock.advance(1999);
    expect(monitor.report().log).toHaveLength(0);
    expect(fake.calls[0].signal.aborted).toBe(false);
    clock.advance(1);
    expect(fake.calls[0].signal.aborted).toBe(true);
    expect(monitor.report()).toMatchObject({
      status: 'unhealthy',
      log: [{ exitCode: -1, output: 'Health check exceeded timeout (2s)' }],
    });
    fake.answer(0, 'too late');
    await settle();
    expect(monitor.report()).toMatchObject({ status: 'unhealthy', log: [{ exitCode: -1 }] });
  });

  it('fails a probe that cannot run with -1 and its error', async () => {
    const { clock, fake, monitor } = setup({ retries: 1 });
    clock.advance(1000);
    fake.calls[0].reject(new Error('shoal-runtime: spawn ENOENT'));
    await settle();
    expect(monitor.report()).toMatchObject({ status: 'unhealthy', log: [{ exitCode: -1, output: 'shoal-runtime: spawn ENOENT' }] });
  });

  it('keeps the last five results with their wall-clock start and end, output cut at 4 KiB', async () => {
    const { clock, fake, monitor, probeOnce } = setup({ timeoutMs: 60_000 });
    for (let i = 1; i <= 6; i++) await probeOnce(i, `run ${i}\n`);
    const log = monitor.report().log;
    expect(log.map((r) => r.output)).toEqual(['run 2\n', 'run 3\n', 'run 4\n', 'run 5\n', 'run 6\n']);
    // The sixth began 6 s after start and was answered at once.
    expect(log[4]).toMatchObject({ start: clock.wall(), end: clock.wall() });
    expect(clock.wall() - log[0].start).toBe(4000);
    clock.advance(1000);
    clock.advance(250);
    fake.answer(0, 'x'.repeat(MAX_OUTPUT_BYTES + 10));
    await settle();
    const last = monitor.report().log[4];
    expect(last.end - last.start).toBe(250);
    expect(last.output).toBe(`${'x'.repeat(MAX_OUTPUT_BYTES)}...`);
  });

  it('stop() aborts the running probe, ignores its answer, reports nothing more and leaves no timer', async () => {
    const { clock, fake, changes, monitor } = setup();
    clock.advance(1000);
    monitor.stop();
    expect(fake.calls[0].signal.aborted).toBe(true);
    fake.answer(0);
    await settle();
    clock.advance(60_000);
    expect(fake.calls).toHaveLength(1);
    expect(changes).toEqual([]);
    expect(monitor.report()).toEqual({ status: 'starting', failingStreak: 0, log: [] });
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stops cleanly from inside its own listener', async () => {
    const clock = new FakeClock();
    const fake = new FakeProbe();
    const monitor: HealthMonitor = new HealthMonitor({
      check: { test: ['CMD', 'check'], intervalMs: 1000 },
      probe: fake.probe,
      clock,
      onChange: () => monitor.stop(),
    });
    monitor.start();
    clock.advance(1000);
    fake.answer(0);
    await settle();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('uses Docker’s defaults: a probe every 30 s, a 30 s timeout, unhealthy after 3 failures', async () => {
    const clock = new FakeClock();
    const fake = new FakeProbe();
    const monitor = new HealthMonitor({ check: { test: ['CMD', 'check'] }, probe: fake.probe, clock });
    monitor.start();
    for (let i = 0; i < 3; i++) {
      clock.advance(29_999);
      expect(fake.calls).toHaveLength(i);
      clock.advance(1);
      expect(fake.calls[i].timeoutMs).toBe(30_000);
      fake.answer(1);
      await settle();
    }
    expect(monitor.report()).toMatchObject({ status: 'unhealthy', failingStreak: 3 });
  });

  it('refuses a check that runs nothing', () => {
    const clock = new FakeClock();
    expect(() => new HealthMonitor({ check: { test: ['NONE'] }, probe: new FakeProbe().probe, clock })).toThrow('runs nothing');
  });
});
