/**
 * What the agent's resolver knows: the services on each overlay network that this node's
 * containers are on, and which of those networks each local container is attached to. The agent
 * builds a whole `DiscoveryView` from its assignments and hands it to `update` whenever they
 * change; this module knows nothing of the agent, the store or protobuf.
 *
 * Names follow Docker's service discovery on a network: the service's name and its aliases, the
 * same with `tasks.` in front, each task's own name (`SERVICE.SLOT.TASKID`) and the task's aliases.
 * A container sees only what is on the networks it shares; when several of its networks know a
 * name, the first of them in its attachment order answers (Docker walks a container's endpoints
 * the same way). Addresses are looked up the same way (`lookupAddress`, for PTR queries): a task's
 * address gives its task name, a VIP its service's name.
 */

export type EndpointMode = 'vip' | 'dnsrr';

export interface DiscoveryTask {
  /** `SERVICE.SLOT.TASKID` (a global service's: `SERVICE.NODEID.TASKID`), as Docker names a task's container. */
  name: string;
  /** The task's address on this network: `10.0.1.5` or, as the allocator writes it, `10.0.1.5/24`. */
  address: string;
  /** More names for this one task on this network. */
  aliases?: readonly string[];
}

export interface DiscoveryService {
  name: string;
  mode: EndpointMode;
  /** The service's virtual IP on this network (VIP mode), with or without its prefix length. */
  vip?: string;
  /** More names for the service on this network, answered as its name is. */
  aliases?: readonly string[];
  /** The tasks to give out: the agent lists those that run (and are healthy, when checked). */
  tasks: readonly DiscoveryTask[];
}

export interface DiscoveryView {
  /** Network id → the services on that network. */
  networks: ReadonlyMap<string, readonly DiscoveryService[]>;
  /** Container id (the agent's: the task id) → the ids of its networks, the first one (eth0) first. */
  containers: ReadonlyMap<string, readonly string[]>;
}

/** The addresses one name stands for on one network. */
interface Entry {
  addresses: string[];
  /** Only virtual IPs: they live as long as the service, so answers may be cached longer. */
  vip: boolean;
}

export type Lookup =
  /** The hello named a container the view does not hold (yet). */
  | { kind: 'unknown-container' }
  /** No service, alias or task on any network has this name: not a name of the cluster's. */
  | { kind: 'not-ours' }
  /** A name of the cluster's, on none of the container's networks. */
  | { kind: 'not-shared' }
  /** On a shared network; `addresses` may be empty (a dnsrr service with no running task). */
  | { kind: 'found'; addresses: readonly string[]; vip: boolean };

export type AddressLookup =
  | { kind: 'unknown-container' }
  /** No task or VIP on any network has this address. */
  | { kind: 'not-ours' }
  /** A task's or VIP's address, on none of the container's networks. */
  | { kind: 'not-shared' }
  /** The task's name, or the service's for a VIP. */
  | { kind: 'found'; name: string; vip: boolean };

/** Who has an address on one network. */
interface Owner {
  name: string;
  vip: boolean;
}

const EMPTY: DiscoveryView = { networks: new Map(), containers: new Map() };

export class ServiceDiscovery {
  private byNetwork = new Map<string, Map<string, Entry>>();
  private allNames = new Set<string>();
  private ownersByNetwork = new Map<string, Map<string, Owner>>();
  private allAddresses = new Set<string>();
  private containers: ReadonlyMap<string, readonly string[]> = new Map();

  constructor(view: DiscoveryView = EMPTY) {
    this.update(view);
  }

  /**
   * Replaces everything the resolver knows; the next query is answered from it. Throws on an
   * address that is not IPv4, keeping the previous view.
   */
  update(view: DiscoveryView): void {
    const byNetwork = new Map<string, Map<string, Entry>>();
    const allNames = new Set<string>();
    const ownersByNetwork = new Map<string, Map<string, Owner>>();
    const allAddresses = new Set<string>();
    for (const [networkId, services] of view.networks) {
      const names = new Map<string, Entry>();
      const owners = new Map<string, Owner>();
      const own = (address: string, owner: Owner): void => {
        allAddresses.add(address);
        // The allocator gives an address once per network; should a view list it twice, the first keeps it.
        if (!owners.has(address)) owners.set(address, owner);
      };
      const add = (name: string, addresses: string[], vip: boolean): void => {
        const key = normalizeName(name);
        if (key === '') return;
        allNames.add(key);
        const entry = names.get(key);
        if (!entry) {
          names.set(key, { addresses: [...new Set(addresses)], vip });
          return;
        }
        // Two things with one name on one network: Docker answers with all their addresses.
        for (const a of addresses) if (!entry.addresses.includes(a)) entry.addresses.push(a);
        entry.vip &&= vip;
      };
      for (const service of services) {
        const taskAddresses = service.tasks.map((t) => ipv4(t.address));
        const vip = service.mode === 'vip' && service.vip !== undefined ? ipv4(service.vip) : undefined;
        if (vip !== undefined) own(vip, { name: service.name, vip: true });
        for (const name of [service.name, ...(service.aliases ?? [])]) {
          if (vip !== undefined) add(name, [vip], true);
          else add(name, service.mode === 'dnsrr' ? taskAddresses : [], false);
          add(`tasks.${name}`, taskAddresses, false);
        }
        for (const [i, task] of service.tasks.entries()) {
          for (const name of [task.name, ...(task.aliases ?? [])]) add(name, [taskAddresses[i]], false);
          own(taskAddresses[i], { name: task.name, vip: false });
        }
      }
      byNetwork.set(networkId, names);
      ownersByNetwork.set(networkId, owners);
    }
    this.byNetwork = byNetwork;
    this.allNames = allNames;
    this.ownersByNetwork = ownersByNetwork;
    this.allAddresses = allAddresses;
    this.containers = new Map(view.containers);
  }

  /** What `name` (any case, with or without the final dot) means to the container `containerId`. */
  lookup(containerId: string, name: string): Lookup {
    const networks = this.containers.get(containerId);
    if (!networks) return { kind: 'unknown-container' };
    const key = normalizeName(name);
    if (!this.allNames.has(key)) return { kind: 'not-ours' };
    let empty: Entry | undefined;
    for (const networkId of networks) {
      const entry = this.byNetwork.get(networkId)?.get(key);
      if (entry && entry.addresses.length > 0) return { kind: 'found', addresses: entry.addresses, vip: entry.vip };
      empty ??= entry;
    }
    return empty ? { kind: 'found', addresses: [], vip: empty.vip } : { kind: 'not-shared' };
  }

  /** Who has `address` (dotted IPv4) for the container `containerId`, by the same rules as `lookup`. */
  lookupAddress(containerId: string, address: string): AddressLookup {
    const networks = this.containers.get(containerId);
    if (!networks) return { kind: 'unknown-container' };
    if (!this.allAddresses.has(address)) return { kind: 'not-ours' };
    for (const networkId of networks) {
      const owner = this.ownersByNetwork.get(networkId)?.get(address);
      if (owner) return { kind: 'found', ...owner };
    }
    return { kind: 'not-shared' };
  }
}

function normalizeName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** The address without its prefix length, checked to be IPv4 (the only family overlay networks have). */
function ipv4(address: string): string {
  const bare = address.replace(/\/\d+$/, '');
  const octets = bare.split('.');
  if (octets.length !== 4 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return octets.map(Number).join('.');
}
