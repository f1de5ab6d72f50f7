/**
 * IPv4 addresses and CIDR subnets as numbers, for the allocator's arithmetic. Only IPv4: overlay
 * networks are IPv4 in shoal, as they are by default in Docker Swarm.
 */

export interface Subnet {
  /** The network address, as a 32-bit unsigned number. */
  readonly base: number;
  readonly prefixLength: number;
}

export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

export function parseAddress(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new AddressError(`invalid IPv4 address "${text}"`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatAddress(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `10.0.1.0/24`; the address must be the subnet's own network address (no host bits set). */
export function parseSubnet(text: string): Subnet {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) throw new AddressError(`invalid subnet "${text}": use CIDR notation, like 10.0.9.0/24`);
  const prefixLength = Number(m[2]);
  if (prefixLength > 30) throw new AddressError(`invalid subnet "${text}": a prefix longer than /30 leaves no room for tasks`);
  const address = parseAddress(m[1]!);
  const base = networkOf(address, prefixLength);
  if (base !== address) throw new AddressError(`invalid subnet "${text}": host bits are set (did you mean ${formatAddress(base)}/${prefixLength}?)`);
  return { base, prefixLength };
}

export function formatSubnet(subnet: Subnet): string {
  return `${formatAddress(subnet.base)}/${subnet.prefixLength}`;
}

export function subnetSize(subnet: Subnet): number {
  return 2 ** (32 - subnet.prefixLength);
}

export function networkOf(address: number, prefixLength: number): number {
  const size = 2 ** (32 - prefixLength);
  return address - (address % size);
}

export function contains(subnet: Subnet, address: number): boolean {
  return address >= subnet.base && address < subnet.base + subnetSize(subnet);
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + subnetSize(b) && b.base < a.base + subnetSize(a);
}
