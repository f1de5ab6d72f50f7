/**
 * The gateway bridge in the node's namespace and its attachments, read from and written to the
 * kernel with iproute2 and nft; no state of its own (see `names.ts` for what is read back).
 *
 * An attachment is a veth pair created from the container's namespace under the caller's
 * interface name, with its peer placed straight into the node's, given its address and the
 * default route via the gateway there; the node's end is then enslaved to the bridge as an isolated port
 * (frames between isolated ports are dropped by the bridge: containers reach the gateway, never
 * each other), brought up only once isolated, and finally given its alias, which marks the
 * attachment as finished.
 */
import { contains, parseAddress, type Subnet } from '../../common/ipv4.js';
import { runCommand } from '../overlay/command.js';
import { deleteLinks, ipBatch, ipJson, type IpAddrLink, type Netns } from '../overlay/iproute.js';
import { macForAddress } from '../overlay/names.js';
import { inNamespace } from '../lb/namespace.js';
import { applyTable, removeTable } from '../lb/nft.js';
import { addressOfVeth, attachmentAlias, lowestFree, parseAttachmentAlias, vethName, type AttachmentKey } from './names.js';
import { GATEWAY_TABLE, renderGatewayTable } from './rules.js';

export interface GatewaySpec {
  nodeNetns: Netns;
  /** How `ip` run in a container's namespace names the node's: its name under /run/netns, or a pid in it. */
  nodeNetnsRef: string;
  bridge: string;
  subnet: Subnet;
  /** The subnet's first host address, held by the bridge. */
  gateway: string;
}

export interface Attachment extends AttachmentKey {
  /** The container's address on the gateway bridge, without a prefix length. */
  address: string;
}

interface Link extends IpAddrLink {
  linkinfo?: IpAddrLink['linkinfo'] & { info_slave_data?: { isolated?: boolean } };
}

/** A veth of ours in the node's namespace: its address from its name, its attachment from its alias (none when half-made). */
interface GatewayVeth {
  link: Link;
  address: string;
  attachment: AttachmentKey | undefined;
}

function readLinks(ns: Netns): Promise<Link[]> {
  return ipJson<Link>(ns, ['-d', 'addr', 'show']);
}

function gatewayVeths(links: readonly Link[]): GatewayVeth[] {
  return links.flatMap((link) => {
    const address = addressOfVeth(link.ifname);
    if (address === undefined || link.linkinfo?.info_kind !== 'veth') return [];
    return [{ link, address, attachment: parseAttachmentAlias(link.ifalias) }];
  });
}

/** A finished attachment inside the subnet: anything else named like ours is left by a crash or an older subnet. */
function isComplete(spec: GatewaySpec, veth: GatewayVeth): boolean {
  return veth.attachment !== undefined && contains(spec.subnet, parseAddress(veth.address)) && veth.address !== spec.gateway;
}

function isUp(link: Link | undefined): boolean {
  return link?.flags?.includes('UP') ?? false;
}

/**
 * Creates or repairs everything but the attachments, changing only what differs: the table first
 * (isolation and masquerade in place before anything is routed), then the bridge holding exactly
 * the gateway address, the finished attachments enslaved and isolated again (a recreated bridge
 * has no ports), the half-made ones removed, and forwarding last.
 */
export async function ensureGateway(spec: GatewaySpec): Promise<void> {
  const { nodeNetns, bridge } = spec;
  await applyTable(nodeNetns, renderGatewayTable(bridge, spec.subnet));

  const links = await readLinks(nodeNetns);
  const br = links.find((l) => l.ifname === bridge);
  if (br !== undefined && br.linkinfo?.info_kind !== 'bridge') {
    throw new Error(`${bridge} exists in the node's namespace and is not a bridge (${br.linkinfo?.info_kind ?? 'unknown kind'})`);
  }
  const veths = gatewayVeths(links);
  await deleteLinks(nodeNetns, veths.filter((v) => !isComplete(spec, v)).map((v) => v.link.ifname));

  const lines: string[] = [];
  // A fixed MAC: a bridge otherwise takes the lowest of its ports' and changes it as they come and
  // go, which would leave containers with a stale neighbour entry for their default gateway.
  if (br === undefined) lines.push(`link add ${bridge} address ${macForAddress(spec.gateway)} type bridge`);
  const gateway = `${spec.gateway}/${spec.subnet.prefixLength}`;
  const addresses = (br?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  for (const a of addresses) if (a !== gateway) lines.push(`addr del ${a} dev ${bridge}`);
  if (!addresses.includes(gateway)) lines.push(`addr add ${gateway} dev ${bridge}`);
  if (!isUp(br)) lines.push(`link set ${bridge} up`);
  for (const { link } of veths.filter((v) => isComplete(spec, v))) {
    if (link.master === bridge && link.linkinfo?.info_slave_data?.isolated === true) continue;
    lines.push(`link set ${link.ifname} down`, ...enslave(link.ifname, bridge));
  }
  await ipBatch(nodeNetns, lines);
  await runCommand(inNamespace(nodeNetns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
}

/** A port joins the bridge isolated, and only then comes up. */
function enslave(veth: string, bridge: string): string[] {
  return [`link set ${veth} master ${bridge}`, `link set dev ${veth} type bridge_slave isolated on`, `link set ${veth} up`];
}

/**
 * Gives the container its interface on the bridge and returns its address (bare). The same
 * attachment again is a no-op returning its address; whatever else holds the key or the container
 * interface, and any half-made attachment, is replaced. The address is the lowest one no finished
 * attachment holds.
 */
export async function attachGateway(spec: GatewaySpec, wanted: AttachmentKey): Promise<string> {
  const { nodeNetns, bridge } = spec;
  const alias = attachmentAlias(wanted);
  const links = await readLinks(nodeNetns);
  const br = links.find((l) => l.ifname === bridge);
  if (br === undefined || !br.addr_info?.some((a) => a.family === 'inet' && a.local === spec.gateway)) {
    throw new Error(`gateway bridge ${bridge} is missing or has no gateway address ${spec.gateway}: ensure it first`);
  }
  const veths = gatewayVeths(links);
  const same = veths.find((v) => v.link.ifalias === alias && isComplete(spec, v));
  if (same !== undefined) return same.address;

  const replaced = (v: GatewayVeth): boolean =>
    !isComplete(spec, v) ||
    v.attachment?.key === wanted.key ||
    (v.attachment?.containerNetns === wanted.containerNetns && v.attachment.ifname === wanted.ifname);
  await deleteLinks(nodeNetns, veths.filter(replaced).map((v) => v.link.ifname));
  const address = lowestFree(spec.subnet, new Set(veths.filter((v) => !replaced(v)).map((v) => v.address)));
  if (address === undefined) throw new Error(`gateway bridge ${bridge}: no free address left in its subnet for ${wanted.key}`);

  await createAttachment(spec, wanted, address);
  return address;
}

/**
 * Creates an attachment at an address the caller knows to be free, in two `ip` runs: the pair made
 * from the container's namespace with its address, link and route there and its peer sent straight
 * into the node's (`nodeNetnsRef`), then the node's end enslaved, isolated, brought up and given
 * its alias. Fails, having removed what it made (the container would otherwise keep an interface
 * it was refused), if anything is in the way (a half-made attach, the interface name taken):
 * `attachGateway` clears that from what the kernel holds first.
 */
export async function createAttachment(spec: GatewaySpec, wanted: AttachmentKey, address: string): Promise<void> {
  const veth = vethName(address);
  try {
    await ipBatch(wanted.containerNetns, [
      `link add ${wanted.ifname} address ${macForAddress(address)} type veth peer name ${veth} netns ${spec.nodeNetnsRef}`,
      `addr add ${address}/${spec.subnet.prefixLength} dev ${wanted.ifname}`,
      `link set ${wanted.ifname} up`,
      `route replace default via ${spec.gateway} dev ${wanted.ifname}`,
    ]);
    await ipBatch(spec.nodeNetns, [...enslave(veth, spec.bridge), `link set ${veth} alias ${attachmentAlias(wanted)}`]);
  } catch (err) {
    // Only the pair this call made can carry the name of an address the caller knew to be free.
    await deleteLinks(wanted.containerNetns, [wanted.ifname]).catch(() => undefined);
    throw err;
  }
}

/** The finished attachments, in address order. */
export async function listGateway(spec: GatewaySpec): Promise<Attachment[]> {
  return gatewayVeths(await readLinks(spec.nodeNetns))
    .filter((v) => isComplete(spec, v))
    .map((v) => ({ ...v.attachment!, address: v.address }))
    .sort((a, b) => parseAddress(a.address) - parseAddress(b.address));
}

/** The table, every veth of ours (deleting a bridge would only release its ports) and the bridge. */
export async function removeGateway(spec: GatewaySpec): Promise<void> {
  await removeTable(spec.nodeNetns, GATEWAY_TABLE);
  const links = await readLinks(spec.nodeNetns);
  await deleteLinks(spec.nodeNetns, gatewayVeths(links).map((v) => v.link.ifname));
  if (links.some((l) => l.ifname === spec.bridge && l.linkinfo?.info_kind === 'bridge')) await deleteLinks(spec.nodeNetns, [spec.bridge]);
}
