/**
 * The routing mesh's network, made with the Cluster object by the first leader so that it exists
 * from init, as Docker Swarm's does. Nothing else is allocated yet then, so its VNI and subnet are
 * fixed; later leaders reserve them from the store like any other network's.
 */
import { Network } from '../../../proto/gen/objects.js';
import { VNI_MIN } from './allocator-state.js';
import { NetworkAddresses } from './network-addresses.js';

export const INGRESS_NAME = 'ingress';
export const INGRESS_SUBNET = '10.255.0.0/16';

export function ingressNetwork(id: string): Network {
  return Network.fromPartial({
    meta: { id, version: 0, createdAt: 0, updatedAt: 0 },
    spec: { annotations: { name: INGRESS_NAME, labels: {} }, driver: 'overlay', subnet: INGRESS_SUBNET, ingress: true },
    vni: VNI_MIN,
    subnet: INGRESS_SUBNET,
    gateway: new NetworkAddresses(INGRESS_SUBNET).gateway,
  });
}
