/**
 * What each stored object holds of the allocator's resources. One definition serves both the
 * rebuild (reserve what every object holds) and the releases (free what an object held and no
 * longer does), so the two can never disagree.
 *
 * A task holds its addresses until it is deleted from the store (by the reaper), not when it
 * stops: a stopped task's container may still be on a node that is cut off, and deletion comes
 * soon enough after a task ends.
 */
import { PublishMode, type Node, type PortConfig, type Service, type Task } from '../../../proto/gen/objects.js';

/** An address on a network, CIDR form. */
export interface AddressHolding {
  networkId: string;
  address: string;
}

export function taskAddresses(task: Task | undefined): AddressHolding[] {
  return (task?.networks ?? []).filter((a) => a.address !== '').map((a) => ({ networkId: a.networkId, address: a.address }));
}

export function nodeAddresses(node: Node | undefined): AddressHolding[] {
  return (node?.attachments ?? []).filter((a) => a.address !== '').map((a) => ({ networkId: a.networkId, address: a.address }));
}

export function serviceVips(service: Service | undefined): AddressHolding[] {
  return (service?.endpoint?.virtualIps ?? []).filter((v) => v.address !== '').map((v) => ({ networkId: v.networkId, address: v.address }));
}

/** The ingress ports a service's endpoint holds (host-mode ports are the nodes' business). */
export function servicePorts(service: Service | undefined): PortConfig[] {
  return (service?.endpoint?.ports ?? []).filter(isIngressPublished);
}

export function isIngressPublished(port: PortConfig): boolean {
  return port.publishMode === PublishMode.PUBLISH_MODE_INGRESS && port.publishedPort > 0;
}

/** The holdings of `before` that `after` does not have (after undefined: all of them). */
export function dropped<T>(before: readonly T[], after: readonly T[], key: (item: T) => string): T[] {
  const kept = new Set(after.map(key));
  return before.filter((item) => !kept.has(key(item)));
}

export const addressKey = (a: AddressHolding): string => `${a.networkId} ${a.address}`;
export const portKey = (p: PortConfig): string => `${p.protocol}/${p.publishedPort}`;
