/**
 * GetJoinToken: a role's join token from the CA state in the Cluster object, rotated first when
 * asked. Rotation is one version-checked store update, so two concurrent rotations cannot both
 * report a token of their own: the second fails ABORTED and the token printed is the one in force.
 */
import { status } from '@grpc/grpc-js';
import type { GetJoinTokenRequest, GetJoinTokenResponse } from '../../../proto/gen/control.js';
import { NodeRole, type Cluster } from '../../../proto/gen/objects.js';
import type { Store } from '../../store/types.js';
import { joinTokenOf, rotateJoinToken, type CaState } from '../ca/ca-state.js';
import { roleFromProto } from '../ca/roles.js';
import { ControlError } from './control-errors.js';
import type { ManagerView } from './manager-status.js';

export function joinTokenHandler(deps: ManagerView & { store: Store }) {
  return {
    async getJoinToken(req: GetJoinTokenRequest): Promise<GetJoinTokenResponse> {
      if (req.role !== NodeRole.NODE_ROLE_WORKER && req.role !== NodeRole.NODE_ROLE_MANAGER) {
        throw new ControlError(status.INVALID_ARGUMENT, `invalid role ${String(req.role)}: a join token is for a worker or a manager`);
      }
      const role = roleFromProto(req.role);
      const ca = req.rotate
        ? await deps.store.update((tx) => {
            const cluster = clusterWithCa(tx.clusters.all()[0]);
            const rotated = rotateJoinToken(cluster.ca, role);
            tx.clusters.update({ ...cluster, ca: rotated });
            return rotated;
          })
        : deps.store.view((tx) => clusterWithCa(tx.clusters.all()[0]).ca);
      return { token: joinTokenOf(ca, role), managerAddresses: managerAddresses(deps) };
    },
  };
}

function clusterWithCa(cluster: Cluster | undefined): Cluster & { ca: CaState } {
  if (cluster?.ca === undefined) {
    throw new ControlError(status.FAILED_PRECONDITION, 'the cluster has no certificate authority yet, so there are no join tokens');
  }
  return { ...cluster, ca: cluster.ca };
}

/** The voters' Raft addresses, the leader's first: where nodes join and later find the managers. */
function managerAddresses(deps: ManagerView): string[] {
  const leaderId = deps.raft.leader()?.id;
  const voters = deps.raft.getConfiguration().configuration.servers.filter((server) => server.suffrage === 'voter');
  return [...voters.filter((s) => s.id === leaderId), ...voters.filter((s) => s.id !== leaderId)].map((s) => s.address);
}
