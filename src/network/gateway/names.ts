/**
 * What the gateway bridge writes into the kernel so that it can read everything back after a
 * restart without any state of its own:
 * - the node end of an attachment's veth is `gw<address in hex>` (`gw0a1e0002` for 10.30.0.2):
 *   the name is the allocation, so the addresses taken are the names present, and a container
 *   that goes frees its address by itself (its namespace takes the veth pair with it);
 * - its alias, set last, is `gw:<key>:<ifname>:<container netns>`: it names who holds the address,
 *   and an end without it is a crashed half-attach, replaced by the next attach.
 */
import { formatAddress, parseAddress, parseSubnet, type Subnet } from '../../common/ipv4.js';
import { checkIfname } from '../overlay/names.js';

/** A key names one attachment (a task or container id): it goes into the alias, where ':' separates fields. */
const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const VETH = /^gw([0-9a-f]{8})$/;
const ALIAS = /^gw:([^:]+):([^:]+):(.+)$/;
/** The kernel's limit on an interface alias (IFALIASZ, with its terminating NUL). */
const MAX_ALIAS = 255;
/** A /29 holds the gateway and five containers; anything smaller is not worth a bridge. */
const MAX_PREFIX_LENGTH = 29;

export interface AttachmentKey {
  /** Who holds the address (a task or container id). */
  key: string;
  /** The container's network namespace, a name under /run/netns or a path. */
  containerNetns: string;
  /** The interface's name inside it. */
  ifname: string;
}

export function checkKey(key: string): void {
  if (!KEY.test(key)) throw new Error(`invalid gateway key "${key}": letters, digits, '_', '.', '-', at most 64, starting with a letter or digit`);
}

/** The bridge's name: a valid interface name that no attachment's veth could ever take. */
export function checkBridgeName(name: string): void {
  checkIfname(name);
  if (VETH.test(name)) throw new Error(`invalid bridge name "${name}": gw followed by 8 hex digits names an attachment's veth`);
}

/** The subnet, at least a /29; its first host address is the gateway. */
export function gatewaySubnet(text: string): { subnet: Subnet; gateway: string } {
  const subnet = parseSubnet(text);
  if (subnet.prefixLength > MAX_PREFIX_LENGTH) throw new Error(`invalid gateway subnet ${text}: at least a /${MAX_PREFIX_LENGTH}`);
  return { subnet, gateway: formatAddress(subnet.base + 1) };
}

export function vethName(address: string): string {
  return `gw${parseAddress(address).toString(16).padStart(8, '0')}`;
}

/** The inverse of vethName, or undefined for any other name. */
export function addressOfVeth(name: string): string | undefined {
  const m = VETH.exec(name);
  return m ? formatAddress(parseInt(m[1]!, 16)) : undefined;
}

export function attachmentAlias(a: AttachmentKey): string {
  const alias = `gw:${a.key}:${a.ifname}:${a.containerNetns}`;
  if (alias.length > MAX_ALIAS) throw new Error(`container namespace "${a.containerNetns}" is too long to be recorded (alias over ${MAX_ALIAS} characters)`);
  return alias;
}

export function parseAttachmentAlias(alias: string | undefined): AttachmentKey | undefined {
  const m = alias === undefined ? null : ALIAS.exec(alias);
  return m ? { key: m[1]!, ifname: m[2]!, containerNetns: m[3]! } : undefined;
}

/**
 * The lowest host address of the subnet that is neither the gateway nor taken, or undefined when
 * the subnet is full. The network and broadcast addresses are never handed out.
 */
export function lowestFree(subnet: Subnet, taken: ReadonlySet<string>): string | undefined {
  const last = subnet.base + 2 ** (32 - subnet.prefixLength) - 2;
  for (let n = subnet.base + 2; n <= last; n++) {
    const address = formatAddress(n);
    if (!taken.has(address)) return address;
  }
  return undefined;
}
