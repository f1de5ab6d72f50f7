/**
 * The overlay data plane of one node: what the worker agent calls to give its containers overlay
 * networks. One sandbox namespace per network (`sandbox.ts`), one veth pair per container endpoint
 * (`endpoint.ts`), static entries for the endpoints on other nodes (`peers.ts`); everything through
 * iproute2, everything idempotent, and everything found again from the kernel after a restart:
 * the instance holds no state but the underlay MTU and what its own ensures made of each bridge
 * (gateway, prefix length, MTU), which spares an attach reading the sandbox first.
 *
 * Calls about one network run one at a time, in call order, except that attaches and detaches
 * run concurrently with each other (each endpoint's own in call order): many containers starting
 * at once do not wait for each other's veths. Calls about different networks run concurrently. Several data planes may share a kernel (nodes of a local cluster, tests) as long as
 * each has its own prefix and its own underlay namespace.
 */
import { contains, parseAddress, parseSubnet } from '../../common/ipv4.js';
import { attachEndpoint, detachEndpoint, listEndpoints, type BridgeInfo, type Endpoint, type EndpointSpec } from './endpoint.js';
import { checkNetns, ipJson, type IpLink } from './iproute.js';
import { KeyedQueue } from './keyed-queue.js';
import { checkIfname, checkNetworkId, checkPrefix, endpointAlias, isSandboxName, sandboxName, type EndpointKey } from './names.js';
import { applyPeerPlan, isEmptyPlan, planPeers, readPeerTables, type Peer } from './peers.js';
import { BRIDGE, ensureSandbox, listNetns, netnsExists, removeSandbox } from './sandbox.js';
import { underlayMtu, VXLAN_OVERHEAD } from './underlay.js';

export interface OverlayNetworkConfig {
  /** The network's id (letters and digits); its first 12 characters name the sandbox. */
  id: string;
  /** The VXLAN network identifier, 1 to 2^24 - 1. */
  vni: number;
  /** The network's IPv4 subnet in CIDR notation. */
  subnet: string;
  /** The gateway address inside it, held by the sandbox's bridge. */
  gateway: string;
}

export interface OverlayDataPlaneOptions {
  /** Names this node's sandboxes `<prefix>-<network id prefix>`; unique per node sharing the kernel. */
  prefix: string;
  /** The node's underlay address: the VXLAN devices' source, and how it finds the underlay MTU. */
  underlayAddress: string;
  /** The namespace holding that address, a name or a path; this process's own when absent. */
  underlayNetns?: string;
}

const MAX_VNI = 2 ** 24 - 1;

export class OverlayDataPlane {
  private readonly queue = new KeyedQueue();
  /** Attaches and detaches of one endpoint (sandbox and container interface), in call order. */
  private readonly endpointQueue = new KeyedQueue();
  /** By sandbox: br0 as this instance's last successful ensure left it; forgotten when the sandbox goes. */
  private readonly bridges = new Map<string, BridgeInfo>();
  private mtu: Promise<number> | undefined;

  constructor(private readonly options: OverlayDataPlaneOptions) {
    checkPrefix(options.prefix);
    parseAddress(options.underlayAddress);
    if (options.underlayNetns !== undefined) checkNetns(options.underlayNetns, 'underlay namespace');
  }

  /** The name of a network's sandbox namespace on this node. */
  sandboxName(networkId: string): string {
    checkNetworkId(networkId);
    return sandboxName(this.options.prefix, networkId);
  }

  /** Creates the network's sandbox, or repairs it to match; a complete one is left unchanged. */
  async ensureNetwork(net: OverlayNetworkConfig): Promise<void> {
    const name = this.sandboxName(net.id);
    if (!Number.isInteger(net.vni) || net.vni < 1 || net.vni > MAX_VNI) throw new Error(`invalid VNI ${net.vni}`);
    const subnet = parseSubnet(net.subnet);
    if (!contains(subnet, parseAddress(net.gateway))) throw new Error(`gateway ${net.gateway} is outside ${net.subnet}`);
    const mtu = await this.overlayMtu();
    await this.queue.run(name, async () => {
      this.bridges.delete(name);
      await ensureSandbox({
        name,
        networkId: net.id,
        vni: net.vni,
        gateway: net.gateway,
        prefixLength: subnet.prefixLength,
        mtu,
        underlayNetns: this.options.underlayNetns,
        underlayAddress: this.options.underlayAddress,
      });
      this.bridges.set(name, { gateway: net.gateway, prefixLength: subnet.prefixLength, mtu });
    });
  }

  /** Removes the network's sandbox with its devices and endpoints; nothing to do if it is gone. */
  async removeNetwork(networkId: string): Promise<void> {
    const name = this.sandboxName(networkId);
    await this.queue.run(name, () => this.dropSandbox(name));
  }

  /** Gives a container an interface on the network (the network must have been ensured). */
  async attach(networkId: string, endpoint: EndpointSpec): Promise<void> {
    const name = this.sandboxName(networkId);
    checkEndpointKey(endpoint);
    parseAddress(endpoint.address);
    await this.endpointJob(name, endpoint, () => attachEndpoint(name, endpoint, this.bridges.get(name)));
  }

  /** Removes a container's interface from the network, if it is there. */
  async detach(networkId: string, key: EndpointKey): Promise<void> {
    const name = this.sandboxName(networkId);
    checkEndpointKey(key);
    await this.endpointJob(name, key, async () => {
      if (await netnsExists(name)) await detachEndpoint(name, key);
    });
  }

  /** The containers attached to the network on this node. */
  async endpoints(networkId: string): Promise<Endpoint[]> {
    const name = this.sandboxName(networkId);
    return this.queue.run(name, async () => ((await netnsExists(name)) ? listEndpoints(name) : []));
  }

  /**
   * Makes the network's remote peers exactly these: adds the missing, removes the others. Peers on
   * this node's own underlay address are local endpoints, reached through the bridge, and skipped.
   */
  async setPeers(networkId: string, peers: readonly Peer[]): Promise<void> {
    const name = this.sandboxName(networkId);
    const remote = peers.filter((p) => p.underlay !== this.options.underlayAddress);
    await this.queue.run(name, async () => {
      if (!(await netnsExists(name))) throw new Error(`network ${networkId} has no sandbox on this node: ensure it first`);
      const plan = planPeers(await readPeerTables(name), remote);
      if (!isEmptyPlan(plan)) await applyPeerPlan(name, plan);
    });
  }

  /** The ids of the networks this node has a complete sandbox for (the id is read back from br0's alias). */
  async networks(): Promise<string[]> {
    const ids: string[] = [];
    for (const name of await this.sandboxes()) {
      const id = await this.queue.run(name, async () => {
        if (!(await netnsExists(name))) return undefined;
        const links = await ipJson<IpLink>(name, ['link', 'show']);
        return links.find((l) => l.ifname === BRIDGE)?.ifalias;
      });
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  /**
   * Removes every sandbox of this prefix whose network is not among the wanted ones, half-built
   * ones included; returns the removed namespaces' names. After a restart the agent calls it with
   * the networks its assignments still need, then ensures those.
   */
  async reconcileNetworks(wantedIds: readonly string[]): Promise<string[]> {
    const keep = new Set(wantedIds.map((id) => this.sandboxName(id)));
    const stale = (await this.sandboxes()).filter((name) => !keep.has(name));
    for (const name of stale) await this.queue.run(name, () => this.dropSandbox(name));
    return stale;
  }

  /** Concurrent with other endpoints' jobs in the sandbox, after (and before) its other calls in call order. */
  private endpointJob(name: string, key: EndpointKey, job: () => Promise<void>): Promise<void> {
    return this.queue.runShared(name, () => this.endpointQueue.run(`${name} ${endpointAlias(key)}`, job));
  }

  private async dropSandbox(name: string): Promise<void> {
    this.bridges.delete(name);
    await removeSandbox(name);
  }

  private async sandboxes(): Promise<string[]> {
    return (await listNetns()).filter((name) => isSandboxName(this.options.prefix, name));
  }

  /** Underlay MTU minus the VXLAN overhead, read once; a failed read is tried again next time. */
  private overlayMtu(): Promise<number> {
    this.mtu ??= underlayMtu(this.options.underlayNetns, this.options.underlayAddress).then(
      (mtu) => mtu - VXLAN_OVERHEAD,
      (err: unknown) => {
        this.mtu = undefined;
        throw err;
      },
    );
    return this.mtu;
  }
}

function checkEndpointKey(key: EndpointKey): void {
  checkIfname(key.ifname);
  checkNetns(key.containerNetns, 'container namespace');
}
