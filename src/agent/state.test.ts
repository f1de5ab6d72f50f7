import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Task, TaskState, TaskStatus } from '../../proto/gen/objects.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { loadAgentState, STATE_FILE, StateFileError, StateWriter, type AgentState } from './state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'shoal-agent-state-'));
  dirs.push(d);
  return d;
}

const sample = (): AgentState => ({
  managers: ['127.0.0.1:4000', '127.0.0.1:4001'],
  tasks: [
    {
      task: Task.fromPartial({
        meta: { id: 't1', version: 12, createdAt: 1_700_000_000_000 },
        serviceId: 's1',
        slot: 2,
        nodeId: 'node1',
        desiredState: TaskState.TASK_STATE_RUNNING,
        spec: { container: { image: 'web:1', stopGracePeriodMs: 3_000, healthcheck: { test: ['CMD', 'true'] } } },
        status: { state: TaskState.TASK_STATE_ASSIGNED },
      }),
      status: TaskStatus.fromPartial({ state: TaskState.TASK_STATE_RUNNING, timestamp: 1_700_000_000_500, message: 'started', pid: 4242 }),
    },
  ],
});

describe('agent state', () => {
  it('is empty when nothing was saved', () => {
    expect(loadAgentState(tempDir())).toEqual({ managers: [], tasks: [] });
  });

  it('round-trips the managers and each task with its last status', async () => {
    const dir = tempDir();
    const state = sample();
    const writer = new StateWriter({ stateDir: dir, snapshot: () => state });
    writer.changed();
    await writer.flush();
    expect(loadAgentState(dir)).toEqual(state);
    // Nothing but the state file is left behind (the temporary file was renamed over it).
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
  });

  it('writes once for a burst of changes, after the quiet time, with the state as of the write', async () => {
    const dir = tempDir();
    const clock = new FakeClock();
    let state: AgentState = { managers: ['a:1'], tasks: [] };
    let snapshots = 0;
    const writer = new StateWriter({ stateDir: dir, clock, delayMs: 50, snapshot: () => (snapshots++, state) });
    writer.changed();
    state = { ...state, managers: ['b:1'] };
    writer.changed();
    clock.advance(49);
    expect(snapshots).toBe(0);
    clock.advance(1);
    expect(snapshots).toBe(1);
    await writer.flush();
    expect(loadAgentState(dir).managers).toEqual(['b:1']);
  });

  it('says which file is unreadable instead of starting from nothing', () => {
    const dir = tempDir();
    writeFileSync(join(dir, STATE_FILE), '{"version": 1, "tasks": [');
    expect(() => loadAgentState(dir)).toThrow(StateFileError);
    writeFileSync(join(dir, STATE_FILE), '{"version": 99}');
    expect(() => loadAgentState(dir)).toThrow(/format version 99/);
  });

  it('writes nothing after close', async () => {
    const dir = tempDir();
    const clock = new FakeClock();
    const state = sample();
    const writer = new StateWriter({ stateDir: dir, clock, snapshot: () => state });
    await writer.close();
    writer.changed();
    clock.advance(1_000);
    await writer.flush();
    expect(readdirSync(dir)).toEqual([]);
  });
});
