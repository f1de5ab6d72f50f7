/**
 * The endpoint a service spec needs, computed in the transaction that writes the service. Specs
 * with no network and no ingress port need no allocator: their endpoint only echoes the spec. The
 * others get their VIPs and published ports from the leader's allocator (allocator/endpoint.ts).
 */
import { status } from '@grpc/grpc-js';
import type { Endpoint, ServiceSpec } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';
import type { AllocatorAccess } from '../allocator/allocator-access.js';
import { allocateEndpoint } from '../allocator/endpoint.js';
import { findIngress, publishesIngress } from '../allocator/needs-allocation.js';
import { currentAllocator } from './allocation.js';
import { ControlError } from './control-errors.js';

export function specNeedsAllocator(spec: ServiceSpec): boolean {
  return (spec.task?.networks.length ?? 0) > 0 || publishesIngress(spec);
}

export function serviceEndpoint(
  tx: ReadTx,
  allocator: AllocatorAccess | undefined,
  serviceId: string,
  spec: ServiceSpec,
  current: Endpoint | undefined,
  onUndo: (undo: () => void) => void,
): Endpoint | undefined {
  if (!specNeedsAllocator(spec)) return spec.endpoint && { spec: spec.endpoint, ports: spec.endpoint.ports, virtualIps: [] };
  const ingress = findIngress(tx);
  if (publishesIngress(spec) && ingress === undefined) {
    throw new ControlError(status.FAILED_PRECONDITION, 'the cluster has no ingress network to publish ports on; publish with mode=host');
  }
  const nameOf = (id: string) => tx.services.get(id)?.spec?.annotations?.name ?? id;
  const { endpoint, undo } = allocateEndpoint(currentAllocator(allocator), { serviceId, spec, current, ingressNetworkId: ingress?.meta?.id, nameOf });
  onUndo(undo);
  return endpoint;
}
