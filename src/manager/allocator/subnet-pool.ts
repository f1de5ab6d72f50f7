/**
 * Where networks get their subnets when `--subnet` is not given: the default address pool, cut
 * into subnets of one size (Docker Swarm's default: 10.0.0.0/8 in /24s). Subnets given
 * explicitly are reserved here too, so that no two networks ever overlap, whoever chose them.
 */
import { AddressError, formatSubnet, overlaps, parseSubnet, subnetSize, type Subnet } from '../../common/ipv4.js';

export const DEFAULT_ADDRESS_POOL = '10.0.0.0/8';
export const DEFAULT_SUBNET_SIZE = 24;

export class SubnetPool {
  private readonly pool: Subnet;
  private readonly inUse = new Map<string, Subnet>();

  constructor(
    pool = DEFAULT_ADDRESS_POOL,
    readonly subnetPrefixLength = DEFAULT_SUBNET_SIZE,
  ) {
    this.pool = parseSubnet(pool);
    if (subnetPrefixLength < this.pool.prefixLength || subnetPrefixLength > 30) {
      throw new AddressError(`subnet size /${subnetPrefixLength} does not fit the pool ${pool}`);
    }
  }

  /** The first subnet of the pool that overlaps none in use, as CIDR; undefined when the pool is full. */
  allocate(): string | undefined {
    const step = 2 ** (32 - this.subnetPrefixLength);
    const end = this.pool.base + subnetSize(this.pool);
    const used = [...this.inUse.values()].sort((a, b) => a.base - b.base);
    for (let base = this.pool.base; base < end; ) {
      const candidate = { base, prefixLength: this.subnetPrefixLength };
      const clash = used.find((u) => overlaps(u, candidate));
      if (!clash) {
        const cidr = formatSubnet(candidate);
        this.inUse.set(cidr, candidate);
        return cidr;
      }
      // Go on from the first subnet boundary at or after the end of the one in the way.
      const clashEnd = clash.base + subnetSize(clash);
      base = Math.max(base + step, this.pool.base + Math.ceil((clashEnd - this.pool.base) / step) * step);
    }
    return undefined;
  }

  /** Takes a given subnet (CIDR). Throws naming the network's subnet it overlaps. */
  reserve(cidr: string): void {
    const subnet = parseSubnet(cidr);
    const key = formatSubnet(subnet);
    for (const [other, used] of this.inUse) {
      if (overlaps(used, subnet)) throw new AddressError(`subnet ${key} overlaps ${other}, which is in use`);
    }
    this.inUse.set(key, subnet);
  }

  release(cidr: string): void {
    this.inUse.delete(formatSubnet(parseSubnet(cidr)));
  }
}
