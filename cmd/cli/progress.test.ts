import { describe, expect, it } from 'vitest';
import { TaskSpec, TaskState } from '../../proto/gen/objects.js';
import { LineProgress, progressBar, ProgressTracker, TerminalProgress } from './progress.js';
import { globalService, replicatedService, task } from './testing/objects.js';

const FULL = `[${'='.repeat(50)}>]`;
const nodes = new Set(['node1', 'node2', 'node3']);
const { TASK_STATE_PENDING: PENDING, TASK_STATE_ASSIGNED: ASSIGNED, TASK_STATE_RUNNING: RUNNING, TASK_STATE_SHUTDOWN: SHUTDOWN, TASK_STATE_FAILED: FAILED } =
  TaskState;

function captured(isTTY: boolean) {
  const out = { text: '', isTTY, write: (t: string) => void (out.text += t) };
  return out;
}

describe('ProgressTracker, replicated', () => {
  it('draws the overall count and one bar per slot', () => {
    const svc = replicatedService(3);
    const view = new ProgressTracker().update(
      svc,
      [task(svc, { slot: 1, state: RUNNING }), task(svc, { slot: 2, state: ASSIGNED }), task(svc, { slot: 3, state: PENDING })],
      nodes,
      false,
    );
    expect(view.lines).toEqual([
      { id: 'overall progress', text: '1 out of 3 tasks' },
      { id: '1/3', text: `running   ${FULL}` },
      { id: '2/3', text: `assigned  ${progressBar(ASSIGNED)}` },
      { id: '3/3', text: `pending   ${progressBar(PENDING)}` },
    ]);
    expect(view).toMatchObject({ running: 1, desired: 3, converged: false, outdated: 0 });
  });

  it('shows a slot with no task yet as empty, and converges when every slot runs', () => {
    const svc = replicatedService(2);
    const tracker = new ProgressTracker();
    expect(tracker.update(svc, [task(svc, { slot: 1 })], nodes, false).lines[2]).toEqual({ id: '2/2', text: '' });
    const view = tracker.update(svc, [task(svc, { slot: 1 }), task(svc, { slot: 2 })], nodes, false);
    expect(view.converged).toBe(true);
    expect(view.lines[0]!.text).toBe('2 out of 2 tasks');
  });

  it("shows a task's error or why it cannot be placed", () => {
    const svc = replicatedService(2);
    const view = new ProgressTracker().update(
      svc,
      [
        task(svc, { slot: 1, state: FAILED, err: 'task: non-zero exit (1)' }),
        task(svc, { slot: 2, state: PENDING, message: 'no suitable node (insufficient memory on 3 nodes)' }),
      ],
      nodes,
      false,
    );
    expect(view.lines.slice(1).map((l) => l.text)).toEqual(['task: non-zero exit (1)', 'no suitable node (insufficient memory on 3 nodes)']);
  });

  it('counts only tasks of the current spec, and reports older ones still meant to run', () => {
    const svc = replicatedService(2, 'nginx:2');
    const oldSpec = TaskSpec.fromPartial({ container: { image: 'nginx:1' } });
    const view = new ProgressTracker().update(
      svc,
      [task(svc, { slot: 1, spec: oldSpec }), task(svc, { slot: 2, spec: oldSpec }), task(svc, { slot: 1, state: ASSIGNED })],
      nodes,
      false,
    );
    expect(view).toMatchObject({ running: 0, outdated: 2, converged: false });
    expect(view.lines[1]!.text).toMatch(/^assigned/);
  });

  it('prefers the runnable generation of a slot and keeps the last text while a slot restarts', () => {
    const svc = replicatedService(1);
    const tracker = new ProgressTracker();
    tracker.update(svc, [task(svc, { slot: 1, state: RUNNING })], nodes, false);
    const dead = task(svc, { slot: 1, state: SHUTDOWN, desired: SHUTDOWN });
    expect(tracker.update(svc, [dead], nodes, false).lines[1]!.text).toBe(`running   ${FULL}`);
    const next = tracker.update(svc, [dead, task(svc, { slot: 1, state: PENDING })], nodes, false);
    expect(next.lines[1]!.text).toMatch(/^pending/);
    expect(next.converged).toBe(false);
  });

  it('ignores tasks on nodes that are down', () => {
    const svc = replicatedService(1);
    const view = new ProgressTracker().update(svc, [task(svc, { slot: 1, nodeId: 'gone' })], nodes, false);
    expect(view.running).toBe(0);
  });

  it('keeps a slot on its row after scaling leaves gaps in slot numbers', () => {
    const svc = replicatedService(2);
    const view = new ProgressTracker().update(svc, [task(svc, { slot: 3, state: ASSIGNED }), task(svc, { slot: 7 })], nodes, false);
    expect(view.lines.map((l) => l.text.split(' ')[0])).toEqual(['1', 'assigned', 'running']);
  });

  it('draws only the overall line beyond 20 tasks, and says when it rolls back', () => {
    const svc = replicatedService(25);
    const tasks = Array.from({ length: 25 }, (_, i) => task(svc, { slot: i + 1 }));
    const view = new ProgressTracker().update(svc, tasks, nodes, true);
    expect(view.lines).toEqual([{ id: 'overall progress', text: 'rolling back update: 25 out of 25 tasks' }]);
  });

  it('converges at once with zero replicas', () => {
    expect(new ProgressTracker().update(replicatedService(0), [], nodes, false).converged).toBe(true);
  });
});

describe('ProgressTracker, global', () => {
  it('waits for tasks, then draws one row per node', () => {
    const svc = globalService();
    const tracker = new ProgressTracker();
    expect(tracker.update(svc, [], nodes, false)).toMatchObject({
      lines: [{ id: 'overall progress', text: 'waiting for new tasks' }],
      converged: false,
    });
    const view = tracker.update(svc, [task(svc, { nodeId: 'node2', state: ASSIGNED }), task(svc, { nodeId: 'node1' })], nodes, false);
    expect(view.lines.map((l) => l.id)).toEqual(['overall progress', 'node1', 'node2']);
    expect(view.lines[0]!.text).toBe('1 out of 2 tasks');
    expect(view.converged).toBe(false);
  });
});

describe('renderers', () => {
  it('on a terminal, redraw every row in place', () => {
    const out = captured(true);
    const r = new TerminalProgress(out);
    r.show([{ id: 'overall progress', text: '0 out of 1 tasks' }, { id: '1/1', text: '' }]);
    expect(out.text).toBe('\x1b[2Koverall progress: 0 out of 1 tasks\n\x1b[2K1/1: \n');
    out.text = '';
    r.show([{ id: 'overall progress', text: '1 out of 1 tasks' }, { id: '1/1', text: 'running' }, { id: 'verify', text: 'Service converged' }]);
    expect(out.text).toBe('\x1b[2A\x1b[2Koverall progress: 1 out of 1 tasks\n\x1b[2K1/1: running\n\x1b[2Kverify: Service converged\n');
    out.text = '';
    r.show([{ id: 'overall progress', text: '1 out of 1 tasks' }]);
    expect(out.text).toBe('');
  });

  it('on a pipe, print a line per change and skip empty rows', () => {
    const out = captured(false);
    const r = new LineProgress(out);
    r.show([{ id: 'overall progress', text: '0 out of 1 tasks' }, { id: '1/1', text: '' }]);
    r.show([{ id: 'overall progress', text: '0 out of 1 tasks' }, { id: '1/1', text: 'pending' }]);
    r.show([{ id: 'overall progress', text: '1 out of 1 tasks' }, { id: '1/1', text: 'pending' }]);
    expect(out.text).toBe('overall progress: 0 out of 1 tasks\n1/1: pending\noverall progress: 1 out of 1 tasks\n');
  });
});
