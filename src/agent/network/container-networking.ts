/**
 * What an executor whose containers have network namespaces of their own (the runtime executor)
 * asks of the agent's networking (`NetworkAgent`): the resolver their DNS relays talk to, and
 * putting a created container on its networks, and on the node's gateway bridge for its host-mode
 * ports, before it starts. The executor depends on this
 * interface only, so its tests can give it a fake.
 */

/** One of a task's addresses, as Task.networks gives it. */
export interface ContainerAddress {
  networkId: string;
  /** CIDR form, as the allocator writes it: `10.0.1.5/24`. */
  address: string;
}

/** A host-mode port of the container's task, published on this node (Task.endpoint, filled in by the scheduler). */
export interface HostPortSpec {
  protocol: 'tcp' | 'udp';
  published: number;
  target: number;
}

export interface NetworkedContainer {
  /** The task id, which is also the container's id (the DNS relay's hello names it). */
  taskId: string;
  /** The container's network namespace: `/proc/<init pid>/ns/net`. */
  netns: string;
  /** In Task.networks order: the first is eth0 and carries the default route, unless the gateway bridge does. */
  networks: readonly ContainerAddress[];
  /** Its host-mode ports: the container gets an interface on the gateway bridge after its networks, with the default route. */
  hostPorts: readonly HostPortSpec[];
}

export interface ContainerNetworking {
  /** The DNS resolver's unix socket, for each container's `org.shoal.dns.relay`. */
  readonly dnsSocket: string;
  /**
   * Waits (bounded) until every network of the container is ready on this node, attaches an
   * interface per network into its namespace (eth0, eth1, ...), then one on the gateway bridge if
   * it publishes host-mode ports (and publishes them), and programs its VIPs. Throws, saying which
   * network is missing or what failed; the container must not be started then.
   */
  connect(container: NetworkedContainer): Promise<void>;
  /** A container found running (after an agent restart): known to DNS, VIP updates and its published ports again, nothing attached. */
  adopt(container: NetworkedContainer): void;
  /** The container is being removed: its interfaces leave their sandboxes and it is forgotten. */
  disconnect(container: NetworkedContainer): Promise<void>;
}
