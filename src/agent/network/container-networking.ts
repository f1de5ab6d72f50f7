/**
 * What an executor whose containers have network namespaces of their own (the runtime executor)
 * asks of the agent's networking (`NetworkAgent`): the resolver their DNS relays talk to, and
 * putting a created container on its networks before it starts. The executor depends on this
 * interface only, so its tests can give it a fake.
 */

/** One of a task's addresses, as Task.networks gives it. */
export interface ContainerAddress {
  networkId: string;
  /** CIDR form, as the allocator writes it: `10.0.1.5/24`. */
  address: string;
}

export interface NetworkedContainer {
  /** The task id, which is also the container's id (the DNS relay's hello names it). */
  taskId: string;
  /** The container's network namespace: `/proc/<init pid>/ns/net`. */
  netns: string;
  /** In Task.networks order: the first is eth0 and carries the default route. */
  networks: readonly ContainerAddress[];
}

export interface ContainerNetworking {
  /** The DNS resolver's unix socket, for each container's `org.shoal.dns.relay`. */
  readonly dnsSocket: string;
  /**
   * Waits (bounded) until every network of the container is ready on this node, attaches an
   * interface per network into its namespace (eth0, eth1, ...), and programs its VIPs. Throws,
   * saying which network is missing or what failed; the container must not be started then.
   */
  connect(container: NetworkedContainer): Promise<void>;
  /** A container found running (after an agent restart): known to DNS and VIP updates again, nothing attached. */
  adopt(container: NetworkedContainer): void;
  /** The container is being removed: its interfaces leave their sandboxes and it is forgotten. */
  disconnect(container: NetworkedContainer): Promise<void>;
}
