/**
 * Which services' tasks the allocator must see before the scheduler does: those on overlay
 * networks, and those publishing ingress ports (their tasks join the ingress network). Every other
 * task goes straight to PENDING, with no extra hop.
 */
import { PublishMode, type Network, type Service, type ServiceSpec } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';

export function publishesIngress(spec: ServiceSpec | undefined): boolean {
  return (spec?.endpoint?.ports ?? []).some((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS);
}

export function needsNetworkAllocation(service: Service): boolean {
  return (service.spec?.task?.networks.length ?? 0) > 0 || publishesIngress(service.spec);
}

/** The routing mesh's network, if the cluster has one. */
export function findIngress(tx: ReadTx): Network | undefined {
  return tx.networks.all().find((n) => n.spec?.ingress === true);
}
