/**
 * The errors raft-kv returns to clients, with the gRPC codes and messages etcd uses for the same
 * conditions, so that etcdctl and etcd client libraries recognise them (some retry on them).
 */
import { status } from '@grpc/grpc-js';

export class EtcdError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

export const etcdErrors = {
  emptyKey: () => new EtcdError(status.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: () => new EtcdError(status.INVALID_ARGUMENT, 'etcdserver: key not found'),
  leaseNotFound: () => new EtcdError(status.NOT_FOUND, 'etcdserver: requested lease not found'),
  compacted: () => new EtcdError(status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRevision: () =>
    new EtcdError(status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  noLeader: () => new EtcdError(status.UNAVAILABLE, 'etcdserver: no leader'),
  leaderChanged: () => new EtcdError(status.UNAVAILABLE, 'etcdserver: leader changed'),
  timeout: () => new EtcdError(status.UNAVAILABLE, 'etcdserver: request timed out'),
  stopped: () => new EtcdError(status.UNAVAILABLE, 'etcdserver: server stopped'),
};
