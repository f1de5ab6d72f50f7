import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthState, Task, TaskState } from '../../proto/gen/objects.js';
import { FakeExecutor, type FakeExecutorOptions } from './fake-executor.js';
import { isAlive } from '../common/proc-stat.js';

const root = mkdtempSync(join(tmpdir(), 'shoal-fake-executor-'));
let dirs = 0;

afterAll(() => {
  FakeExecutor.killAll(root);
  for (let i = 1; i <= dirs; i++) FakeExecutor.killAll(join(root, `e${i}`));
  rmSync(root, { recursive: true, force: true });
});

function executor(opts: Partial<FakeExecutorOptions> = {}): { executor: FakeExecutor; stateDir: string } {
  const stateDir = join(root, `e${++dirs}`);
  return { executor: new FakeExecutor({ stateDir, pollMs: 10, ...opts }), stateDir };
}

let ids = 0;
function task(image = 'app:1', extra: Partial<Task> = {}): Task {
  return Task.fromPartial({
    meta: { id: `task${++ids}` },
    desiredState: TaskState.TASK_STATE_RUNNING,
    spec: { container: { image } },
    ...extra,
  });
}

async function started(e: FakeExecutor, t: Task): Promise<number> {
  await e.prepare(t);
  await e.start(t);
  const info = await e.inspect(t.meta!.id);
  expect(info?.running).toBe(true);
  return info!.pid!;
}

describe('FakeExecutor (a simulation: plain sleep processes, no isolation)', () => {
  it('runs a task as a real process, stops it with SIGTERM, and forgets it on remove', async () => {
    const { executor: e } = executor();
    const t = task();
    expect(await e.inspect(t.meta!.id)).toBeUndefined();
    await e.prepare(t);
    expect(await e.inspect(t.meta!.id)).toEqual({ running: false });
    const pid = await started(e, t);
    expect(isAlive(pid)).toBe(true);
    // Starting again is a no-op: the same process.
    await e.start(t);
    expect((await e.inspect(t.meta!.id))?.pid).toBe(pid);

    const exit = e.wait(t);
    await e.shutdown(t, 5_000);
    expect(await exit).toEqual({ exitCode: 143 });
    expect(isAlive(pid)).toBe(false);
    expect(await e.inspect(t.meta!.id)).toEqual({ running: false, pid, exitCode: 143 });
    await e.shutdown(t, 5_000);
    await e.remove(t);
    expect(await e.inspect(t.meta!.id)).toBeUndefined();
    await e.remove(t);
  });

  it('lets a new executor on the same directory re-attach to the same process', async () => {
    const { executor: first, stateDir } = executor();
    const t = task();
    const pid = await started(first, t);
    const second = new FakeExecutor({ stateDir, pollMs: 10 });
    expect(await second.inspect(t.meta!.id)).toEqual({ running: true, pid });
    const exit = second.wait(t);
    process.kill(pid, 'SIGKILL');
    expect(await exit).toEqual({ exitCode: 137 });
  });

  it('fakes a program that exits by itself with a code', async () => {
    const { executor: e } = executor({ behaviours: [{ image: /^crash:/, exitAfterMs: 50, exitCode: 3 }, { image: 'done:1', exitAfterMs: 20 }] });
    const crash = task('crash:1');
    await started(e, crash);
    expect(await e.wait(crash)).toEqual({ exitCode: 3 });
    const done = task('done:1');
    await started(e, done);
    expect(await e.wait(done)).toEqual({ exitCode: 0 });
  });

  it('refuses to prepare or start the images it is told to', async () => {
    const { executor: e } = executor({ behaviours: [{ image: 'missing:1', failPrepare: 'no such image' }, { image: 'broken:1', failStart: 'exec format error' }] });
    await expect(e.prepare(task('missing:1'))).rejects.toThrow('no such image');
    const broken = task('broken:1');
    await e.prepare(broken);
    await expect(e.start(broken)).rejects.toThrow('exec format error');
    expect(await e.inspect(broken.meta!.id)).toEqual({ running: false });
  });

  it('kills a process that ignores SIGTERM once the grace period is over', async () => {
    const { executor: e } = executor({ behaviours: [{ image: 'stubborn:1', ignoreSigterm: true }] });
    const t = task('stubborn:1');
    const pid = await started(e, t);
    await e.shutdown(t, 100);
    expect(await e.wait(t)).toEqual({ exitCode: 137 });
    expect(isAlive(pid)).toBe(false);
  });

  it('uses the stop signal the spec names', async () => {
    const { executor: e } = executor();
    const t = task('app:1');
    t.spec!.container!.stopSignal = 'USR1';
    await started(e, t);
    await e.shutdown(t, 5_000);
    // Killed by SIGUSR1 (10), not SIGTERM (15) nor SIGKILL (9).
    expect((await e.wait(t)).exitCode).toBe(128 + 10);
  });

  it('reports health over time for tasks with a healthcheck', async () => {
    let now = 1_000_000;
    const { executor: e } = executor({ now: () => now, healthyAfterMs: 100, behaviours: [{ image: 'sick:1', unhealthyAfterMs: 500 }] });
    const healthcheck = { test: ['CMD', 'true'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 };
    const plain = task('app:1');
    await started(e, plain);
    expect(await e.health(plain)).toBe(HealthState.HEALTH_STATE_NONE);
    const sick = task('sick:1', { spec: { container: { image: 'sick:1', healthcheck } } } as Partial<Task>);
    await started(e, sick);
    expect(await e.health(sick)).toBe(HealthState.HEALTH_STATE_STARTING);
    now += 100;
    expect(await e.health(sick)).toBe(HealthState.HEALTH_STATE_HEALTHY);
    now += 400;
    expect(await e.health(sick)).toBe(HealthState.HEALTH_STATE_UNHEALTHY);
  });

  it('runs an image’s own healthcheck when the spec names none, and none when the spec says NONE', async () => {
    let now = 1_000_000;
    const { executor: e } = executor({ now: () => now, healthyAfterMs: 100, behaviours: [{ image: 'checked:1', healthcheck: true }] });
    const own = task('checked:1');
    await started(e, own);
    expect(await e.health(own)).toBe(HealthState.HEALTH_STATE_STARTING);
    now += 100;
    expect(await e.health(own)).toBe(HealthState.HEALTH_STATE_HEALTHY);
    const disabled = task('checked:1', { spec: { container: { image: 'checked:1', healthcheck: { test: ['NONE'] } } } } as Partial<Task>);
    await started(e, disabled);
    expect(await e.health(disabled)).toBe(HealthState.HEALTH_STATE_NONE);
  });

  it('stops waiting when told to, leaving the process running', async () => {
    const { executor: e } = executor();
    const t = task();
    const pid = await started(e, t);
    const abort = new AbortController();
    const waiting = e.wait(t, abort.signal);
    abort.abort(new Error('agent stopping'));
    await expect(waiting).rejects.toThrow('agent stopping');
    expect(isAlive(pid)).toBe(true);
  });

  it('killAll leaves nothing running', async () => {
    const { executor: e, stateDir } = executor();
    const pids = [await started(e, task()), await started(e, task())];
    expect(FakeExecutor.killAll(stateDir)).toBe(2);
    for (const pid of pids) await expect.poll(() => isAlive(pid)).toBe(false);
  });

  it('keeps a log of its own: start, stop and exit, which a follower sees as they happen', async () => {
    const { executor: e } = executor();
    const t = task('logged:1');
    await started(e, t);
    const abort = new AbortController();
    const follower = e.logs(t, { follow: true, tail: -1 }, abort.signal)[Symbol.asyncIterator]();
    expect((await follower.next()).value?.log).toBe('fake task started: logged:1\n');
    await e.shutdown(t, 5_000);
    expect((await follower.next()).value?.log).toBe('fake task stopping: SIGTERM\n');
    const exited = (await follower.next()).value;
    expect(exited?.log).toBe('fake task exited with code 143\n');
    expect(exited?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    abort.abort();
    expect((await follower.next()).done).toBe(true);
    const tail: string[] = [];
    for await (const entry of e.logs(t, { follow: false, tail: 1 }, new AbortController().signal)) tail.push(entry.log);
    expect(tail).toEqual(['fake task exited with code 143\n']);
  });
});
