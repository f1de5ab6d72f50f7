/**
 * What one node needs to wire its containers (proto/dispatcher.proto, NetworkState), from one
 * store view:
 * - its underlay address (Node.status.addr: the host its session came from, recorded without a port);
 * - the networks its assigned tasks are on, and the ingress network while any service publishes
 *   ingress ports (the routing mesh answers on every node), each with the node's own address there
 *   and its peers: the addresses of tasks that may be running on other nodes and of the other
 *   nodes themselves, with the underlay address of their node (a node with none is skipped);
 * - the services with a VIP or a task address on those networks, with their tasks that can take
 *   traffic (running, desired running, healthy or without a healthcheck).
 *
 * A builder lives for one view and works out each network and each service once, however many
 * nodes share them, so a batch costs the networks and services it touches plus what it sends.
 */
import type { NetworkConfig, NetworkPeer, NetworkState, ServiceEndpoints } from '../../../proto/gen/dispatcher.js';
import { EndpointMode, TaskState, type Network, type Task } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';
import { findIngress, publishesIngress } from '../allocator/needs-allocation.js';
import { isUp, mayBeRunningOnNode } from '../orchestrator/task.js';
import { isAssigned } from './assignments.js';
import { taskNetworks, type NetworkIndex } from './network-index.js';

/** One network as every node sees it, before each node's own endpoints are left out. */
interface NetworkView {
  network: Network;
  /** Every endpoint on the network, with the node it is on, by address. */
  endpoints: (NetworkPeer & { nodeId: string })[];
  /** Each node's own address on the network. */
  nodeAddresses: Map<string, string>;
  /** Services with a VIP or a task address on the network. */
  serviceIds: string[];
}

/** Whether the task takes traffic for its service. */
export function isServing(task: Task): boolean {
  return task.desiredState === TaskState.TASK_STATE_RUNNING && isUp(task);
}

export class NetworkStateBuilder {
  /** The ingress network's id while any service publishes ingress ports: every node is on it then. */
  readonly meshNetworkId: string | undefined;
  private readonly views = new Map<string, NetworkView | undefined>();
  private readonly services = new Map<string, ServiceEndpoints | undefined>();
  private readonly underlays = new Map<string, string>();
  private vipServices: Map<string, string[]> | undefined;

  constructor(
    private readonly tx: ReadTx,
    private readonly index: NetworkIndex,
  ) {
    const publishing = tx.services.all().some((s) => publishesIngress(s.spec));
    this.meshNetworkId = publishing ? findIngress(tx)?.meta?.id : undefined;
  }

  /** The ids of the networks the node is on, sorted. */
  networksOf(nodeId: string): string[] {
    const ids = new Set<string>();
    for (const task of this.tx.tasks.byNode(nodeId)) {
      if (isAssigned(task)) for (const id of taskNetworks(task)) ids.add(id);
    }
    if (this.meshNetworkId !== undefined) ids.add(this.meshNetworkId);
    return [...ids].sort(compare);
  }

  stateFor(nodeId: string): NetworkState {
    const networks: NetworkConfig[] = [];
    const serviceIds = new Set<string>();
    for (const networkId of this.networksOf(nodeId)) {
      const view = this.view(networkId);
      if (view === undefined) continue;
      const peers: NetworkPeer[] = [];
      for (const e of view.endpoints) if (e.nodeId !== nodeId) peers.push({ address: e.address, underlayAddress: e.underlayAddress });
      networks.push({ network: view.network, nodeAddress: view.nodeAddresses.get(nodeId) ?? '', peers });
      for (const id of view.serviceIds) serviceIds.add(id);
    }
    const services: ServiceEndpoints[] = [];
    for (const id of [...serviceIds].sort(compare)) {
      const endpoints = this.serviceEndpoints(id);
      if (endpoints !== undefined) services.push(endpoints);
    }
    return { underlayAddress: this.underlayOf(nodeId), networks, services };
  }

  private view(networkId: string): NetworkView | undefined {
    if (this.views.has(networkId)) return this.views.get(networkId);
    const network = this.tx.networks.get(networkId);
    let view: NetworkView | undefined;
    if (network !== undefined) {
      view = { network, endpoints: [], nodeAddresses: new Map(), serviceIds: [] };
      const serviceIds = new Set(this.servicesWithVipOn(networkId));
      for (const taskId of this.index.tasksOn(networkId)) {
        const task = this.tx.tasks.get(taskId);
        if (task === undefined) continue;
        serviceIds.add(task.serviceId);
        const underlay = mayBeRunningOnNode(task) ? this.underlayOf(task.nodeId) : '';
        if (underlay === '') continue;
        for (const a of task.networks) {
          if (a.networkId === networkId && a.address !== '') view.endpoints.push({ address: a.address, underlayAddress: underlay, nodeId: task.nodeId });
        }
      }
      for (const nodeId of this.index.nodesOn(networkId)) {
        const address = this.tx.nodes.get(nodeId)?.attachments.find((a) => a.networkId === networkId)?.address ?? '';
        if (address === '') continue;
        view.nodeAddresses.set(nodeId, address);
        const underlay = this.underlayOf(nodeId);
        if (underlay !== '') view.endpoints.push({ address, underlayAddress: underlay, nodeId });
      }
      view.endpoints.sort((a, b) => compare(a.address, b.address) || compare(a.nodeId, b.nodeId));
      view.serviceIds = [...serviceIds].filter((id) => this.tx.services.get(id) !== undefined);
    }
    this.views.set(networkId, view);
    return view;
  }

  private serviceEndpoints(serviceId: string): ServiceEndpoints | undefined {
    if (this.services.has(serviceId)) return this.services.get(serviceId);
    const service = this.tx.services.get(serviceId);
    let endpoints: ServiceEndpoints | undefined;
    if (service !== undefined) {
      const tasks = this.tx.tasks
        .byService(serviceId)
        .filter(isServing)
        .sort((a, b) => compare(a.meta?.id ?? '', b.meta?.id ?? ''))
        .map((t) => ({ taskId: t.meta?.id ?? '', slot: t.slot, nodeId: t.nodeId, addresses: t.networks }));
      endpoints = {
        serviceId,
        name: service.spec?.annotations?.name ?? '',
        mode: service.endpoint?.spec?.mode ?? service.spec?.endpoint?.mode ?? EndpointMode.ENDPOINT_MODE_VIP,
        virtualIps: service.endpoint?.virtualIps ?? [],
        ports: service.endpoint?.ports ?? [],
        tasks,
      };
    }
    this.services.set(serviceId, endpoints);
    return endpoints;
  }

  private servicesWithVipOn(networkId: string): string[] {
    if (this.vipServices === undefined) {
      this.vipServices = new Map();
      for (const service of this.tx.services.all()) {
        for (const vip of service.endpoint?.virtualIps ?? []) {
          const ids = this.vipServices.get(vip.networkId) ?? [];
          ids.push(service.meta?.id ?? '');
          this.vipServices.set(vip.networkId, ids);
        }
      }
    }
    return this.vipServices.get(networkId) ?? [];
  }

  private underlayOf(nodeId: string): string {
    let underlay = this.underlays.get(nodeId);
    if (underlay === undefined) {
      // Recorded without a port at registration (caller.ts): "192.0.2.1", "::1".
      underlay = nodeId === '' ? '' : (this.tx.nodes.get(nodeId)?.status?.addr ?? '');
      this.underlays.set(nodeId, underlay);
    }
    return underlay;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
