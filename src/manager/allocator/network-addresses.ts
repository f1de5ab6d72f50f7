/**
 * The addresses of one network's subnet: the gateway is the first host address (on each node,
 * the bridge of the network's sandbox holds it); the rest go to nodes, tasks and service VIPs.
 * The network and broadcast addresses are never handed out.
 */
import { AddressError, contains, formatAddress, parseAddress, parseSubnet, subnetSize, type Subnet } from '../../common/ipv4.js';
import { RangeAllocator } from './range-allocator.js';

export class NetworkAddresses {
  readonly subnet: Subnet;
  readonly gateway: string;
  private readonly hosts: RangeAllocator;

  constructor(readonly cidr: string) {
    this.subnet = parseSubnet(cidr);
    const size = subnetSize(this.subnet);
    this.gateway = formatAddress(this.subnet.base + 1);
    this.hosts = new RangeAllocator(this.subnet.base + 2, this.subnet.base + size - 2);
  }

  get prefixLength(): number {
    return this.subnet.prefixLength;
  }

  /** A free address, or undefined when the subnet is full. */
  allocate(): string | undefined {
    const n = this.hosts.allocate();
    return n === undefined ? undefined : formatAddress(n);
  }

  /** Takes a specific address (one found in the store when a leader rebuilds). False if taken or not a host address of the subnet. */
  reserve(address: string): boolean {
    const n = parseAddress(address);
    if (!contains(this.subnet, n)) throw new AddressError(`${address} is not in ${this.cidr}`);
    return this.hosts.reserve(n);
  }

  release(address: string): void {
    this.hosts.release(parseAddress(address));
  }

  get free(): number {
    return this.hosts.size - this.hosts.usedCount;
  }
}
