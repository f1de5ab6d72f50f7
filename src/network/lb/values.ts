/**
 * The values that go into rules, checked and put in one canonical form before any text is
 * rendered: nothing but a dotted IPv4 address or a port number ever reaches nft, and the same
 * state always renders the same text (so its digest matches and rewriting it is a no-op).
 */
import { formatAddress, parseAddress } from '../../common/ipv4.js';

export type Protocol = 'tcp' | 'udp';

export function checkProtocol(protocol: string): Protocol {
  if (protocol !== 'tcp' && protocol !== 'udp') throw new Error(`invalid protocol "${protocol}": tcp or udp`);
  return protocol;
}

export function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid ${what} ${port}: 1 to 65535`);
  return port;
}

/** Distinct addresses in numeric order, so that neither order nor repetition changes the rules. */
export function sortedAddresses(addresses: readonly string[]): string[] {
  return [...new Set(addresses.map(parseAddress))].sort((a, b) => a - b).map(formatAddress);
}

export function canonicalAddress(address: string): string {
  return formatAddress(parseAddress(address));
}

/**
 * `numgen inc mod N map { 0 : a, 1 : b, ... }`: the next of N backends for each new connection,
 * in turn (IPVS's default round-robin, which Docker's VIPs use). Only a connection's first packet
 * goes through a NAT rule, so conntrack keeps every later packet on the backend it got.
 */
export function roundRobin(backends: readonly string[]): string {
  return `numgen inc mod ${backends.length} map { ${backends.map((b, i) => `${i} : ${b}`).join(', ')} }`;
}
