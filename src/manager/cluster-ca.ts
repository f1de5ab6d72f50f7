/**
 * The NodeCA service (src/manager/ca) as a manager serves it: its state, the removed nodes and the
 * certificate lifetime read from the replicated Cluster object, so every manager answers alike and
 * a rotated token stops working everywhere at once. Issuing a certificate records the node
 * (node-admission.ts), which only the leader can do: a follower passes IssueNodeCertificate on to
 * the leader. Fetching the root and renewing write nothing and are answered where they arrive.
 */
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { NodeCAService, type IssueRequest, type IssueResponse, type NodeCAServer } from '../../proto/gen/ca.js';
import type { Cluster } from '../../proto/gen/objects.js';
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/types.js';
import { createNodeCAService, RpcError, type CaState } from './ca/index.js';
import { deadlineMs, FORWARDED_METADATA, type LeaderForwarder } from './leader-forwarder.js';
import { admitNode, type AdmissionDeps } from './node-admission.js';

export interface ClusterCADeps extends AdmissionDeps {
  store: Store;
  isLeader: () => boolean;
  forwarder: LeaderForwarder;
  logger: Logger;
}

export function createClusterCAService(deps: ClusterCADeps): NodeCAServer {
  const { store } = deps;
  const cluster = (): Cluster | undefined => store.view((tx) => tx.clusters.all()[0]);
  const service = createNodeCAService({
    caState: () => caStateOf(cluster()),
    isNodeActive: (nodeId) => store.view((tx) => tx.nodes.get(nodeId) !== undefined && !(nodeId in (tx.clusters.all()[0]?.removedNodes?.removedAt ?? {}))),
    onNodeJoining: (identity, joining) => admitNode(deps, identity, joining),
    certificateLifetimeMs: () => certificateLifetimeOf(cluster()),
    logger: deps.logger,
  });
  return {
    ...service,
    issueNodeCertificate: (call, callback) => {
      if (deps.isLeader()) service.issueNodeCertificate(call, callback);
      else void forwardIssue(deps, call, callback);
    },
  };
}

/** The node certificate lifetime the Cluster asks for; undefined for the CA's default. */
export function certificateLifetimeOf(cluster: Cluster | undefined): number | undefined {
  const ms = cluster?.spec?.nodeCertLifetimeMs;
  return ms !== undefined && ms > 0 ? ms : undefined;
}

function caStateOf(cluster: Cluster | undefined): CaState {
  if (cluster?.ca === undefined) throw new RpcError(status.UNAVAILABLE, 'the cluster has no certificate authority yet; try again');
  return cluster.ca;
}

async function forwardIssue(deps: ClusterCADeps, call: ServerUnaryCall<IssueRequest, IssueResponse>, callback: sendUnaryData<IssueResponse>): Promise<void> {
  if (call.metadata.get(FORWARDED_METADATA).length > 0) {
    callback({ code: status.UNAVAILABLE, details: 'this manager was forwarded a join but is not the leader; try again' });
    return;
  }
  try {
    const leader = await deps.forwarder.waitForLeader();
    callback(null, await deps.forwarder.forward(leader.address, NodeCAService.issueNodeCertificate, call.request, deadlineMs(call.getDeadline())));
  } catch (err) {
    callback(err as Error);
  }
}
