/**
 * The one Cluster object: created by the first leader of a new cluster with the settings of
 * `shoal manager --init` and the CA that manager made (manager-identity.ts), together with the
 * founding manager's Node and the ingress network (allocator/ingress.ts); left alone by every
 * later leader.
 */
import { Cluster, type Node } from '../../proto/gen/objects.js';
import type { CaState } from '../../proto/gen/ca.js';
import { newId } from '../common/ids.js';
import type { Store, WriteTx } from '../store/types.js';
import { ingressNetwork } from './allocator/ingress.js';

export const DEFAULT_TASK_HISTORY_RETENTION_LIMIT = 5;
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5000;

export interface ClusterDefaults {
  heartbeatPeriodMs?: number;
  nodeCertLifetimeMs?: number;
}

/** What only the manager that ran --init has: the CA it created and its own Node. */
export interface ClusterSeed {
  ca: CaState;
  founder: Node;
}

/**
 * Creates the Cluster object, from `seed`, unless one exists; resolves with whether the Cluster
 * holds a CA. Without a seed nothing is created (a manager that joined waits for the founder's).
 */
export async function ensureCluster(store: Store, defaults: ClusterDefaults, seed: ClusterSeed | undefined): Promise<boolean> {
  return store.update((tx) => {
    const existing = tx.clusters.all()[0];
    if (existing) return existing.ca !== undefined;
    if (seed === undefined) return false;
    tx.clusters.create(
      Cluster.fromPartial({
        meta: { id: seed.ca.clusterId },
        spec: {
          annotations: { name: 'default', labels: {} },
          taskHistoryRetentionLimit: DEFAULT_TASK_HISTORY_RETENTION_LIMIT,
          heartbeatPeriodMs: defaults.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS,
          nodeCertLifetimeMs: defaults.nodeCertLifetimeMs ?? 0,
        },
        ca: seed.ca,
      }),
    );
    if (tx.nodes.get(seed.founder.meta!.id) === undefined) tx.nodes.create(seed.founder);
    if (!tx.networks.all().some((n) => n.spec?.ingress)) tx.networks.create(ingressNetwork(newId()));
    return true;
  });
}

/**
 * Records nodes as removed from the cluster (Cluster.removedNodes) and deletes their Node objects:
 * their certificates are refused from then on, and the role manager takes any of them still in
 * Raft out of it. `node rm` does this for one node (controlapi/node-handlers.ts); a forced new
 * cluster for the managers it left behind.
 */
export function markRemoved(tx: WriteTx, nodeIds: readonly string[], at: number): void {
  const cluster = tx.clusters.all()[0];
  if (cluster === undefined) return;
  const removedAt = { ...cluster.removedNodes?.removedAt };
  for (const id of nodeIds) {
    removedAt[id] ??= at;
    const node = tx.nodes.get(id);
    if (node !== undefined) tx.nodes.delete(node);
  }
  tx.clusters.update({ ...cluster, removedNodes: { removedAt } });
}

export async function recordRemovals(store: Store, nodeIds: readonly string[], at: number): Promise<void> {
  await store.update((tx) => markRemoved(tx, nodeIds, at));
}
