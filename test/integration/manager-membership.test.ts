/**
 * Managers coming and going, with real processes: joining managers become voters, `node demote`,
 * `node promote` and `node rm` change Raft membership, a removed manager stops, and a cluster that
 * lost its quorum is recovered with `shoal manager --force-new-cluster`.
 */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManagerProcess } from '../support/manager-process.js';
import { isRunnable, isRunning, type TaskJson } from '../support/task-json.js';
import { TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait-for.js';

interface ClusterInfoJson {
  managers?: { raftId: string; leader?: boolean; suffrage?: string; reachability?: string }[];
}

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({ managers: 3 });
});

afterAll(async () => {
  await cluster?.close();
});

async function members(via?: ManagerProcess): Promise<Record<string, string>> {
  const info = await cluster.json<ClusterInfoJson>(['cluster', 'info'], via);
  return sorted(Object.fromEntries((info.managers ?? []).map((m) => [m.raftId, m.suffrage ?? ''])));
}

async function waitForMembers(expected: Record<string, string>, via?: ManagerProcess): Promise<void> {
  await waitFor(`raft members ${JSON.stringify(expected)}`, async () => JSON.stringify(await members(via)) === JSON.stringify(sorted(expected)), 30_000, 100);
}

const sorted = (record: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));

describe('manager membership', () => {
  it('joins managers as voters, demotes and promotes one, and removes a demoted one, which then stops', async () => {
    const ids = cluster.managers.map((m) => m.id!);
    expect(await members()).toEqual(sorted(Object.fromEntries(ids.map((id) => [id, 'voter']))));
    // Each manager is a node too, named by the hostname it joined from.
    const nodes = await cluster.json<{ meta?: { id?: string }; description?: { hostname?: string }; role?: string }[]>(['node', 'ls']);
    for (const id of ids) expect(nodes.find((n) => n.meta?.id === id)).toMatchObject({ description: { hostname: hostname() }, role: 'NODE_ROLE_MANAGER' });
    const leader = await cluster.waitForLeader();
    const target = cluster.managers.find((m) => m !== leader)!;

    await cluster.ok(['node', 'demote', target.id!]);
    await waitForMembers({ ...Object.fromEntries(ids.map((id) => [id, 'voter'])), [target.id!]: 'nonvoter' });
    await cluster.ok(['node', 'promote', target.id!]);
    await waitForMembers(Object.fromEntries(ids.map((id) => [id, 'voter'])));

    await cluster.ok(['node', 'demote', target.id!]);
    await waitForMembers({ ...Object.fromEntries(ids.map((id) => [id, 'voter'])), [target.id!]: 'nonvoter' });
    await cluster.ok(['node', 'rm', '--force', target.id!]);
    await waitForMembers(Object.fromEntries(ids.filter((id) => id !== target.id).map((id) => [id, 'voter'])));
    expect(await target.exited).toBe(1);
    expect(target.log()).toContain('was removed from the cluster');
  });

  it('recovers from a lost quorum with --force-new-cluster, keeping services, and takes new managers', async () => {
    await cluster.addNodes('recover', 2);
    await cluster.ok(['service', 'create', '--name', 'kept', '--replicas', '2', '--constraint', 'engine.labels.group==recover', 'app:1']);
    const live = cluster.managers.filter((m) => m.alive);
    expect(live).toHaveLength(2);
    // Both remaining managers are needed for a quorum: lose one for good.
    const [survivor, lost] = live as [ManagerProcess, ManagerProcess];
    await lost.kill();
    await survivor.stop();

    const recovered = cluster.restartManager(survivor, { forceNewCluster: true });
    await waitFor('the recovered manager to lead alone', async () => {
      const r = await cluster.cli(['cluster', 'info', '--format', 'json'], recovered);
      if (r.code !== 0) return false;
      const info = JSON.parse(r.stdout) as ClusterInfoJson;
      return info.managers?.length === 1 && info.managers[0]?.leader === true;
    }, 30_000, 100);
    const tasks = (await cluster.json<TaskJson[]>(['service', 'ps', 'kept'], recovered)).filter(isRunnable);
    expect(tasks).toHaveLength(2);
    await waitFor('the nodes to come back', async () => (await cluster.json<TaskJson[]>(['service', 'ps', 'kept'], recovered)).filter(isRunning).length === 2, 30_000, 100);
    // The managers left behind are removed: their certificates no longer work.
    const nodes = await cluster.json<{ meta?: { id?: string } }[]>(['node', 'ls'], recovered);
    expect(nodes.map((n) => n.meta?.id)).not.toContain(lost.id);

    await cluster.ok(['service', 'scale', 'kept=3'], recovered);
    const joined = await cluster.joinManager();
    await waitForMembers({ [recovered.id!]: 'voter', [joined.id!]: 'voter' }, recovered);
  });
});
