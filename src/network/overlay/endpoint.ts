/**
 * A container's endpoint on a network: a veth pair with one end in the network's sandbox,
 * enslaved to br0, and the other in the container's namespace under the name the caller chose
 * (eth0, eth1, ...), with the endpoint's address, its MAC derived from that address, the
 * network's MTU and, for the container's first network, the default route via the gateway.
 *
 * The pair is created from the container's namespace with its peer placed straight into the
 * sandbox (which always has a name), in the same batch that addresses it: one process in each
 * namespace, and no temporary name in either. The sandbox end's alias, set last, names the
 * container interface it serves: an end with that alias is a finished attach, an end without it
 * was left by a crash and is replaced.
 *
 * When the caller knows the bridge (what ensure made of the sandbox), the sandbox is not read
 * first: a fresh attach simply succeeds. If anything is in the way (the attach was done already,
 * a crash left a half-made one, a stale endpoint holds the address), the pair cannot be created,
 * and the attach starts over from what the sandbox holds.
 */
import { contains, networkOf, parseAddress } from '../../common/ipv4.js';
import { deleteLinks, ipBatch, type IpAddrLink } from './iproute.js';
import { addressOfVethName, endpointAlias, endpointVethName, macForAddress, parseEndpointAlias, type EndpointKey } from './names.js';
import { BRIDGE, readLinks } from './sandbox.js';

export interface EndpointSpec extends EndpointKey {
  /** The endpoint's IPv4 address, inside the network's subnet. */
  address: string;
  /** Route everything not on a connected network via this network's gateway (the first network only). */
  defaultRoute: boolean;
}

export interface Endpoint extends EndpointKey {
  address: string;
}

/** A sandbox's br0 as ensure made it: the gateway address with the subnet's prefix length, and the network's MTU. */
export interface BridgeInfo {
  gateway: string;
  prefixLength: number;
  mtu: number;
}

export async function attachEndpoint(sandbox: string, spec: EndpointSpec, known?: BridgeInfo): Promise<void> {
  if (known !== undefined) {
    checkAddress(spec, known);
    try {
      await createEndpoint(sandbox, spec, known);
      return;
    } catch {
      // Something is in the way, or the sandbox is not what ensure made: look, then start over.
    }
  }
  const links = await readLinks(sandbox);
  const bridge = bridgeOf(links, sandbox);
  checkAddress(spec, bridge);
  const veth = endpointVethName(spec.address);
  const alias = endpointAlias(spec);
  if (links.some((l) => l.ifname === veth && l.ifalias === alias)) return;

  // Whatever holds this address's name (a crashed attach, an endpoint whose container went on
  // running after its task left) or this container interface (the same container re-addressed)
  // is replaced; deleting one end of a veth deletes the other.
  await deleteLinks(sandbox, links.filter((l) => l.ifname === veth || l.ifalias === alias).map((l) => l.ifname));
  await createEndpoint(sandbox, spec, bridge);
}

/** The pair, addressed and routed in the container, then joined to br0 and marked finished in the sandbox. */
async function createEndpoint(sandbox: string, spec: EndpointSpec, bridge: BridgeInfo): Promise<void> {
  const veth = endpointVethName(spec.address);
  const { mtu, gateway, prefixLength } = bridge;
  const inside = [
    `link add ${spec.ifname} mtu ${mtu} address ${macForAddress(spec.address)} type veth peer name ${veth} mtu ${mtu} netns ${sandbox}`,
    `addr add ${spec.address}/${prefixLength} dev ${spec.ifname}`,
    `link set ${spec.ifname} up`,
  ];
  if (spec.defaultRoute) inside.push(`route replace default via ${gateway} dev ${spec.ifname}`);
  await ipBatch(spec.containerNetns, inside);
  await ipBatch(sandbox, [`link set ${veth} master ${BRIDGE} up`, `link set ${veth} alias ${endpointAlias(spec)}`]);
}

function checkAddress(spec: EndpointSpec, { gateway, prefixLength }: BridgeInfo): void {
  const subnet = { base: networkOf(parseAddress(gateway), prefixLength), prefixLength };
  if (!contains(subnet, parseAddress(spec.address)) || spec.address === gateway) {
    throw new Error(`endpoint address ${spec.address} is not a host address of the network's subnet (gateway ${gateway}/${prefixLength})`);
  }
}

/** Deletes the endpoint's veth pair, if it is there (a container's namespace takes its end with it when it goes). */
export async function detachEndpoint(sandbox: string, key: EndpointKey): Promise<void> {
  const alias = endpointAlias(key);
  const links = await readLinks(sandbox);
  await deleteLinks(sandbox, links.filter((l) => l.ifalias === alias).map((l) => l.ifname));
}

/** The finished endpoints in a sandbox. */
export async function listEndpoints(sandbox: string): Promise<Endpoint[]> {
  const endpoints: Endpoint[] = [];
  for (const link of await readLinks(sandbox)) {
    const key = parseEndpointAlias(link.ifalias);
    const address = addressOfVethName(link.ifname);
    if (key !== undefined && address !== undefined) endpoints.push({ ...key, address });
  }
  return endpoints;
}

function bridgeOf(links: IpAddrLink[], sandbox: string): BridgeInfo {
  const br = links.find((l) => l.ifname === BRIDGE);
  const inet = br?.addr_info?.find((a) => a.family === 'inet');
  if (br === undefined || inet === undefined) throw new Error(`sandbox ${sandbox} has no ${BRIDGE} with a gateway address: ensure the network first`);
  return { gateway: inet.local, prefixLength: inet.prefixlen, mtu: br.mtu };
}
