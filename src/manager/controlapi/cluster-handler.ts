/** GetCluster: the Cluster object and the Raft view of the managers, from the answering manager. */
import type { GetClusterResponse } from '../../../proto/gen/control.js';
import type { Cluster } from '../../../proto/gen/objects.js';
import type { Store } from '../../store/types.js';
import { managerStatuses, type ManagerView } from './manager-status.js';

export function clusterHandler(deps: ManagerView & { store: Store }) {
  return {
    async getCluster(): Promise<GetClusterResponse> {
      // The leader creates the one Cluster object when first elected; until then it is absent.
      const cluster = redacted(deps.store.view((tx) => tx.clusters.all()[0]));
      const stats = deps.raft.stats();
      return {
        cluster,
        managers: managerStatuses(deps),
        raftTerm: stats.term,
        raftCommitIndex: stats.commitIndex,
        raftAppliedIndex: stats.appliedIndex,
        answeredBy: deps.raftId,
      };
    },
  };
}

/** The cluster as a client may see it: the root CA's private key never leaves the managers. */
function redacted(cluster: Cluster | undefined): Cluster | undefined {
  if (cluster?.ca === undefined) return cluster;
  return { ...cluster, ca: { ...cluster.ca, rootCaKeyPem: '' } };
}
