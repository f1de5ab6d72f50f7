/**
 * Everything the leader has given out for overlay networks, in memory: VNIs, subnets, the
 * addresses of each network, the ingress published ports. It holds no truth of its own: a new
 * leader rebuilds it from the store (rebuild.ts) before anything is allocated, and every
 * allocation is written to the store by whoever asked for it. So a failover or a restart neither
 * leaks nor gives anything twice.
 */
import type { Network } from '../../../proto/gen/objects.js';
import { AllocationError } from './allocation-error.js';
import { AddressError } from '../../common/ipv4.js';
import { NetworkAddresses } from './network-addresses.js';
import { PortTable } from './port-table.js';
import { RangeAllocator } from './range-allocator.js';
import { SubnetPool } from './subnet-pool.js';

/** VXLAN network identifiers: 24 bits; below 4096 stays clear of VLAN ids, as Docker does. */
export const VNI_MIN = 4096;
export const VNI_MAX = 16_777_215;

export interface NetworkAllocation {
  vni: number;
  subnet: string;
  gateway: string;
}

export class AllocatorState {
  readonly ports = new PortTable();
  private readonly vnis = new RangeAllocator(VNI_MIN, VNI_MAX);
  private readonly subnets: SubnetPool;
  private readonly addresses = new Map<string, NetworkAddresses>();

  constructor(subnets = new SubnetPool()) {
    this.subnets = subnets;
  }

  /** A VNI and a subnet (`requested`, or the pool's next) for a new network. */
  allocateNetwork(id: string, requested: string): NetworkAllocation {
    const vni = this.vnis.allocate();
    if (vni === undefined) throw new AllocationError('exhausted', 'no VXLAN id (VNI) is free');
    let subnet: string | undefined;
    try {
      if (requested === '') {
        subnet = this.subnets.allocate();
        if (subnet === undefined) throw new AllocationError('exhausted', 'the default address pool has no free subnet; give one with --subnet');
      } else {
        this.subnets.reserve(requested);
        subnet = requested;
      }
    } catch (err) {
      this.vnis.release(vni);
      if (err instanceof AddressError) throw new AllocationError('conflict', err.message);
      throw err;
    }
    const addresses = new NetworkAddresses(subnet);
    this.addresses.set(id, addresses);
    return { vni, subnet, gateway: addresses.gateway };
  }

  /** Takes the VNI and subnet of a network found in the store; returns what could not be taken. */
  restoreNetwork(network: Network): string[] {
    const id = network.meta?.id ?? '';
    const problems: string[] = [];
    if (!this.vnis.reserve(network.vni)) problems.push(`network ${id}: VNI ${network.vni} is taken twice or out of range`);
    try {
      this.subnets.reserve(network.subnet);
      this.addresses.set(id, new NetworkAddresses(network.subnet));
    } catch (err) {
      problems.push(`network ${id}: ${(err as Error).message}`);
    }
    return problems;
  }

  releaseNetwork(network: Network): void {
    const id = network.meta?.id ?? '';
    if (!this.addresses.has(id)) return;
    this.addresses.delete(id);
    this.vnis.release(network.vni);
    this.subnets.release(network.subnet);
  }

  hasNetwork(id: string): boolean {
    return this.addresses.has(id);
  }

  /** A free address on the network, in CIDR form ("10.0.1.5/24"). */
  allocateAddress(networkId: string): string {
    const addresses = this.table(networkId);
    const address = addresses.allocate();
    if (address === undefined) throw new AllocationError('exhausted', `network ${networkId} (${addresses.cidr}) has no free address`);
    return `${address}/${addresses.prefixLength}`;
  }

  /** Takes a specific address (CIDR form) found in the store; false if taken or not on the network. */
  reserveAddress(networkId: string, cidr: string): boolean {
    const addresses = this.addresses.get(networkId);
    if (addresses === undefined) return false;
    try {
      return addresses.reserve(hostPart(cidr));
    } catch {
      return false;
    }
  }

  releaseAddress(networkId: string, cidr: string): void {
    this.addresses.get(networkId)?.release(hostPart(cidr));
  }

  private table(networkId: string): NetworkAddresses {
    const addresses = this.addresses.get(networkId);
    if (addresses === undefined) throw new AllocationError('conflict', `network ${networkId} not found`);
    return addresses;
  }
}

function hostPart(cidr: string): string {
  return cidr.split('/')[0]!;
}
