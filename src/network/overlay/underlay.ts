/**
 * The underlay: the node's own network, which carries the VXLAN packets. Its MTU bounds every
 * overlay device's, since each overlay frame travels inside one underlay packet.
 */
import { ipJson, type IpAddrLink, type Netns } from './iproute.js';

/** Inner Ethernet header (14) + outer IPv4 (20) + UDP (8) + VXLAN header (8). */
export const VXLAN_OVERHEAD = 50;

/** The MTU of the device holding the node's underlay address. */
export async function underlayMtu(ns: Netns, address: string): Promise<number> {
  const links = await ipJson<IpAddrLink>(ns, ['-4', 'addr', 'show']);
  const link = links.find((l) => l.addr_info?.some((a) => a.local === address));
  if (link === undefined) {
    throw new Error(`no device holds the underlay address ${address}${ns === undefined ? '' : ` in network namespace ${ns}`}`);
  }
  return link.mtu;
}
