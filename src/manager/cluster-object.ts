/**
 * The one Cluster object: created by the first leader with the defaults of `shoal manager --init`,
 * and left alone by every later one.
 */
import { Cluster } from '../../proto/gen/objects.js';
import { newId } from '../common/ids.js';
import type { Store } from '../store/types.js';

export const DEFAULT_TASK_HISTORY_RETENTION_LIMIT = 5;
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5000;

export interface ClusterDefaults {
  heartbeatPeriodMs?: number;
}

/** Creates the Cluster object unless one exists; resolves with its id. */
export async function ensureCluster(store: Store, defaults: ClusterDefaults = {}): Promise<string> {
  return store.update((tx) => {
    const existing = tx.clusters.all()[0];
    if (existing) return existing.meta?.id ?? '';
    const id = newId();
    tx.clusters.create(
      Cluster.fromPartial({
        meta: { id },
        spec: {
          annotations: { name: 'default', labels: {} },
          taskHistoryRetentionLimit: DEFAULT_TASK_HISTORY_RETENTION_LIMIT,
          heartbeatPeriodMs: defaults.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS,
        },
      }),
    );
    return id;
  });
}
