/**
 * The managers' words for a node that is no longer part of the cluster: the dispatcher's NOT_FOUND
 * ("node X was removed from the cluster", "node X is not part of the cluster") and the CA's
 * PERMISSION_DENIED on renewal ("node X has been removed from the cluster"). Final: the agent stops.
 */
import { status, type ServiceError } from '@grpc/grpc-js';

export function isRemovalRefusal(err: Pick<ServiceError, 'code' | 'details'> | undefined): boolean {
  if (err?.code !== status.NOT_FOUND && err?.code !== status.PERMISSION_DENIED) return false;
  return /removed from the cluster|was removed|not part of the cluster/.test(err.details ?? '');
}
