/**
 * The names and addresses this package derives, so that every one of them can be found again from
 * the kernel after a restart without any state of our own:
 * - a network's sandbox namespace is `<prefix>-<first 12 characters of the network id>` (Docker
 *   names its overlay sandboxes after the network id the same way); the full id is kept as br0's
 *   alias;
 * - an endpoint's MAC is 02:42 followed by its IPv4 address (Docker's rule), so a peer on another
 *   node needs only an address and the node's underlay address to be programmed;
 * - the sandbox end of an endpoint's veth is `ve<address in hex>` (addresses are unique within a
 *   network, hence within its sandbox), and its alias records which container interface it
 *   serves, which is how `detach` and `endpoints` find it.
 */
import { formatAddress, parseAddress } from '../../common/ipv4.js';

/** Namespace names are files under /run/netns; the prefix must not make them ambiguous with another prefix's. */
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** shoal's ids are base 36; a '-' would make `<prefix>-<id>` ambiguous. */
const NETWORK_ID = /^[A-Za-z0-9]+$/;
/** The kernel's rule for interface names (dev_valid_name), narrowed to what needs no quoting. */
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

export const SANDBOX_ID_LENGTH = 12;

export function checkPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) throw new Error(`invalid sandbox prefix "${prefix}": letters, digits, '_', '.', '-', at most 64`);
}

export function checkNetworkId(id: string): void {
  if (!NETWORK_ID.test(id)) throw new Error(`invalid network id "${id}": letters and digits only`);
}

export function checkIfname(ifname: string): void {
  if (!IFNAME.test(ifname)) throw new Error(`invalid interface name "${ifname}": at most 15 letters, digits, '_', '.', '-'`);
}

export function sandboxName(prefix: string, networkId: string): string {
  return `${prefix}-${networkId.slice(0, SANDBOX_ID_LENGTH)}`;
}

/** Whether a namespace name is one of this prefix's sandboxes (and not a longer prefix's: `p-x-<id>` is not `p`'s). */
export function isSandboxName(prefix: string, name: string): boolean {
  if (!name.startsWith(`${prefix}-`)) return false;
  const rest = name.slice(prefix.length + 1);
  return rest.length > 0 && rest.length <= SANDBOX_ID_LENGTH && NETWORK_ID.test(rest);
}

export function macForAddress(address: string): string {
  return `02:42:${addressBytes(address).join(':')}`;
}

export function endpointVethName(address: string): string {
  return `ve${addressBytes(address).join('')}`;
}

/** The inverse of endpointVethName, or undefined for any other name. */
export function addressOfVethName(name: string): string | undefined {
  const m = /^ve([0-9a-f]{8})$/.exec(name);
  return m ? formatAddress(parseInt(m[1]!, 16)) : undefined;
}

/**
 * The vxlan device's name in the underlay namespace, where it is created and lives only until it
 * is moved into the sandbox (and renamed vxlan0). One per VNI, as the underlay's UDP socket allows
 * only one device per VNI anyway.
 */
export function stagingVxlanName(vni: number): string {
  return `shvx-${vni.toString(16)}`;
}

export interface EndpointKey {
  /** The container's network namespace, a name or a path. */
  containerNetns: string;
  /** The interface's name inside it. */
  ifname: string;
}

/** `ep:<ifname>:<netns>`: an interface name holds no ':', so the first two split it unambiguously. */
export function endpointAlias(key: EndpointKey): string {
  return `ep:${key.ifname}:${key.containerNetns}`;
}

export function parseEndpointAlias(alias: string | undefined): EndpointKey | undefined {
  const m = alias === undefined ? null : /^ep:([^:]+):(.+)$/.exec(alias);
  return m ? { ifname: m[1]!, containerNetns: m[2]! } : undefined;
}

function addressBytes(address: string): string[] {
  const n = parseAddress(address);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'));
}
