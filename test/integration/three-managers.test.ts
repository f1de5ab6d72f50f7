/**
 * Three real manager processes (the first creates the cluster, two join with the manager token),
 * fake nodes in this process joined with the worker token, everything over mutual TLS, and the
 * real `shoal` CLI: forwarding from followers, a leader killed (SIGKILL) in the middle of a
 * rolling update, and a manager resuming from its state directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState } from '../../proto/gen/objects.js';
import type { ManagerProcess } from '../support/manager-process.js';
import { imageOf, isRunnable, isRunning, type ServiceJson, type TaskJson } from '../support/task-json.js';
import { TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait-for.js';

interface ClusterInfoJson {
  answeredBy?: string;
  managers?: { raftId: string; leader?: boolean; reachability?: string }[];
  services?: number;
}

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({ managers: 3 });
});

afterAll(async () => {
  await cluster?.close();
});

async function follower(): Promise<ManagerProcess> {
  const leader = await cluster.waitForLeader();
  const f = cluster.managers.find((m) => m !== leader && m.alive);
  if (!f) throw new Error('no live follower');
  return f;
}

const ps = (service: string, via?: ManagerProcess): Promise<TaskJson[]> => cluster.json<TaskJson[]>(['service', 'ps', service], via);

describe('three managers', () => {
  it('answers and changes things through a follower, which forwards to the leader', async () => {
    await cluster.addNodes('fwd', 2);
    const via = await follower();
    const info = await cluster.json<ClusterInfoJson>(['cluster', 'info'], via);
    expect(info.managers?.map((m) => m.raftId).sort()).toEqual(cluster.managers.map((m) => m.id).sort());
    expect(info.answeredBy).not.toBe(via.id);

    const r = await cluster.cli(['service', 'create', '--name', 'viafollower', '--replicas', '2', '--constraint', 'engine.labels.group==fwd', '--update-monitor', '500ms', 'app:1'], via);
    expect(r.code, r.stderr).toBe(0);
    const tasks = (await ps('viafollower', via)).filter(isRunnable);
    expect(tasks.filter(isRunning)).toHaveLength(2);
  });

  it('finishes a rolling update under a new leader after the old one is killed, with no task lost or doubled', async () => {
    const nodes = await cluster.addNodes('failover', 3);
    const replicas = 6;
    await cluster.ok([
      'service', 'create', '--name', 'rolling', '--replicas', String(replicas), '--constraint', 'engine.labels.group==failover',
      '--update-parallelism', '1', '--update-delay', '400ms', '--update-monitor', '200ms', 'app:1',
    ]);
    await cluster.ok(['service', 'update', '--detach', '--image', 'app:2', 'rolling']);
    // Kill the leader once the update is under way but far from done.
    await waitFor('the update to be under way', async () => {
      const updated = (await ps('rolling')).filter((t) => isRunning(t) && imageOf(t) === 'app:2').length;
      return updated >= 1 && updated <= 3;
    }, 30_000, 50);
    const oldLeader = await cluster.waitForLeader();
    await oldLeader.kill();

    const newLeader = await cluster.waitForLeader();
    expect(newLeader).not.toBe(oldLeader);
    await waitFor('the update to complete under the new leader', async () => {
      const [s] = JSON.parse(await cluster.ok(['service', 'inspect', 'rolling'], newLeader)) as ServiceJson[];
      return s.updateStatus?.state === 'UPDATE_STATE_COMPLETED';
    }, 60_000, 200);
    await waitFor('every slot to run the new image', async () => {
      const runnable = (await ps('rolling', newLeader)).filter(isRunnable);
      return runnable.length === replicas && runnable.every((t) => isRunning(t) && imageOf(t) === 'app:2');
    }, 30_000, 100);

    const runnable = (await ps('rolling', newLeader)).filter(isRunnable);
    expect(runnable.map((t) => t.slot).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([1, 2, 3, 4, 5, 6]);
    // The nodes agree: what they run is exactly those tasks, none left over from before the failover.
    const ids = runnable.map((t) => t.meta?.id ?? '').sort();
    const runningOnNodes = (): string[] =>
      nodes.flatMap((n) => [...n.taskStates()].filter(([, state]) => state === TaskState.TASK_STATE_RUNNING).map(([id]) => id)).sort();
    await waitFor('the nodes to run exactly the counted tasks', () => JSON.stringify(runningOnNodes()) === JSON.stringify(ids), 30_000, 50);
  });

  it('brings a manager back from its state directory', async () => {
    const dead = cluster.managers.find((m) => !m.alive);
    if (!dead) throw new Error('expected the killed leader to be down');
    const restarted = cluster.restartManager(dead);
    await waitFor('the restarted manager to see every manager reachable', async () => {
      const r = await cluster.cli(['cluster', 'info', '--format', 'json'], restarted);
      if (r.code !== 0) return false;
      const info = JSON.parse(r.stdout) as ClusterInfoJson;
      return info.managers?.length === 3 && info.managers.every((m) => m.reachability === 'reachable');
    }, 30_000, 200);
    // It resumed its own Raft state rather than starting empty.
    const loaded = restarted
      .log()
      .split('\n')
      .filter((line) => line.includes('"raft state loaded"'))
      .map((line) => JSON.parse(line) as { term: number; lastIndex: number })
      .at(-1);
    expect(loaded?.term).toBeGreaterThan(0);
    expect(loaded?.lastIndex).toBeGreaterThan(0);
    const services = await cluster.json<{ spec?: { annotations?: { name?: string } } }[]>(['service', 'ls'], restarted);
    expect(services.map((s) => s.spec?.annotations?.name).sort()).toEqual(['rolling', 'viafollower']);
    const tasks = (await ps('rolling', restarted)).filter(isRunnable);
    expect(tasks).toHaveLength(6);
  });
});
