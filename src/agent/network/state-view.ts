/**
 * What one NetworkState (proto/dispatcher.proto) means for this node, as the src/network modules
 * take it: the overlay networks with their remote peers, the resolver's view, the VIPs a
 * container sees, and the published ports of the routing mesh. Pure functions: no kernel, no I/O.
 *
 * The ingress network carries published ports only: as in Docker, it has no service discovery and
 * no VIP inside containers (the routing mesh balances over the tasks' ingress addresses itself).
 */
import type { NetworkState, ServiceEndpoints, TaskEndpoint } from '../../../proto/gen/dispatcher.js';
import { EndpointMode, PortProtocol, PublishMode } from '../../../proto/gen/objects.js';
import type { DiscoveryService, DiscoveryView } from '../../network/dns/discovery.js';
import type { IngressPort } from '../../network/lb/ingress-rules.js';
import type { VipService } from '../../network/lb/vip.js';
import type { OverlayNetworkConfig } from '../../network/overlay/data-plane.js';
import type { Peer } from '../../network/overlay/peers.js';
import type { NetworkedContainer } from './container-networking.js';

export interface WantedNetwork {
  config: OverlayNetworkConfig;
  /** Every endpoint on another node, addresses without their prefix length (as the data plane takes them). */
  peers: Peer[];
  ingress: boolean;
  /** This node's own address on it, bare; undefined if it has none. */
  nodeAddress: string | undefined;
}

/** The address without its prefix length: `10.0.1.5/24` → `10.0.1.5`. */
export function bareAddress(address: string): string {
  const slash = address.indexOf('/');
  return slash < 0 ? address : address.slice(0, slash);
}

export function wantedNetworks(state: NetworkState): WantedNetwork[] {
  return state.networks.flatMap((n) => {
    const network = n.network;
    const id = network?.meta?.id;
    if (!network || !id) return [];
    return [
      {
        config: { id, vni: network.vni, subnet: network.subnet, gateway: bareAddress(network.gateway) },
        peers: n.peers.map((p) => ({ address: bareAddress(p.address), underlay: p.underlayAddress })),
        ingress: network.spec?.ingress === true,
        nodeAddress: n.nodeAddress === '' ? undefined : bareAddress(n.nodeAddress),
      },
    ];
  });
}

function ingressNetworkIds(state: NetworkState): Set<string> {
  return new Set(wantedNetworks(state).filter((n) => n.ingress).map((n) => n.config.id));
}

/** Docker's name for a task's container: `SERVICE.SLOT.TASKID`, a global service's `SERVICE.NODEID.TASKID`. */
export function taskName(service: Pick<ServiceEndpoints, 'name'>, task: Pick<TaskEndpoint, 'slot' | 'nodeId' | 'taskId'>): string {
  return `${service.name}.${task.slot > 0 ? task.slot : task.nodeId}.${task.taskId}`;
}

function addressesOn(service: ServiceEndpoints, networkId: string): { task: TaskEndpoint; address: string; aliases: string[] }[] {
  return service.tasks.flatMap((task) =>
    task.addresses.filter((a) => a.networkId === networkId).map((a) => ({ task, address: a.address, aliases: a.aliases })),
  );
}

function vipOn(service: ServiceEndpoints, networkId: string): string | undefined {
  if (service.mode !== EndpointMode.ENDPOINT_MODE_VIP) return undefined;
  const vip = service.virtualIps.find((v) => v.networkId === networkId);
  return vip && vip.address !== '' ? vip.address : undefined;
}

/**
 * The resolver's view: per (non-ingress) network the services with a VIP or a task on it, and the
 * networks of each container on this node. A task's aliases on a network come from the service's
 * `--network name=N,alias=A` (the allocator copies them to every task), so they name the service,
 * as in Docker.
 */
export function discoveryView(state: NetworkState, containers: Iterable<NetworkedContainer>): DiscoveryView {
  const ingress = ingressNetworkIds(state);
  const networks = new Map<string, DiscoveryService[]>();
  for (const { config } of wantedNetworks(state)) {
    if (ingress.has(config.id)) continue;
    const services: DiscoveryService[] = [];
    for (const service of state.services) {
      const vip = vipOn(service, config.id);
      const tasks = addressesOn(service, config.id);
      if (vip === undefined && tasks.length === 0) continue;
      services.push({
        name: service.name,
        mode: service.mode === EndpointMode.ENDPOINT_MODE_DNSRR ? 'dnsrr' : 'vip',
        ...(vip !== undefined ? { vip } : {}),
        aliases: [...new Set(tasks.flatMap((t) => t.aliases))],
        tasks: tasks.map((t) => ({ name: taskName(service, t.task), address: t.address })),
      });
    }
    networks.set(config.id, services);
  }
  const byContainer = new Map<string, string[]>();
  for (const c of containers) byContainer.set(c.taskId, c.networks.map((n) => n.networkId));
  return { networks, containers: byContainer };
}

/**
 * The VIPs a container balances: on each of its networks (in its order, ingress excepted), each
 * VIP-mode service's VIP there, over its tasks' addresses on that network. A VIP met twice (two
 * networks with the same subnet) is the first network's, as DNS answers from the first.
 */
export function containerVips(state: NetworkState, networkIds: readonly string[]): VipService[] {
  const ingress = ingressNetworkIds(state);
  const vips: VipService[] = [];
  const seen = new Set<string>();
  for (const networkId of networkIds) {
    if (ingress.has(networkId)) continue;
    for (const service of state.services) {
      const vip = vipOn(service, networkId);
      if (vip === undefined || seen.has(bareAddress(vip))) continue;
      seen.add(bareAddress(vip));
      vips.push({ vip: bareAddress(vip), backends: addressesOn(service, networkId).map((t) => bareAddress(t.address)) });
    }
  }
  return vips;
}

export interface IngressPlan {
  networkId: string;
  /** This node's address on the ingress network: the routing mesh's sandbox holds it. */
  nodeAddress: string | undefined;
  /** Ingress-mode ports, each over its service's tasks on the ingress network (on any node). */
  ports: IngressPort[];
}

const PROTOCOL = { [PortProtocol.PORT_PROTOCOL_TCP]: 'tcp', [PortProtocol.PORT_PROTOCOL_UDP]: 'udp' } as const;

/** The routing mesh's part, when the state includes the ingress network; undefined otherwise. */
export function ingressPlan(state: NetworkState): IngressPlan | undefined {
  const network = wantedNetworks(state).find((n) => n.ingress);
  if (!network) return undefined;
  const ports: IngressPort[] = [];
  for (const service of state.services) {
    for (const port of service.ports) {
      // Host-mode ports are the local tasks' own (the agent's containers), not the state's.
      if (port.publishMode === PublishMode.PUBLISH_MODE_HOST) continue;
      const protocol = PROTOCOL[port.protocol as keyof typeof PROTOCOL];
      if (port.publishedPort === 0 || protocol === undefined) continue;
      ports.push({
        protocol,
        published: port.publishedPort,
        target: port.targetPort,
        backends: addressesOn(service, network.config.id).map((t) => bareAddress(t.address)),
      });
    }
  }
  return { networkId: network.config.id, nodeAddress: network.nodeAddress, ports };
}
