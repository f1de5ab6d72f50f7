/**
 * Which nameservers the agent forwards to: those of the node's resolv.conf by default (Docker's
 * embedded resolver uses the host's), or a list given to the worker with `--dns-upstream`.
 * The agent asks from the node's own network namespace, so a loopback nameserver (a local caching
 * resolver such as systemd-resolved's 127.0.0.53) is as good as any other.
 */
import { isIP } from 'node:net';
import type { UpstreamServer } from './upstream.js';

const DNS_PORT = 53;

/** The `nameserver` lines of a resolv.conf, in order; lines that do not hold an IP address are skipped, as libc skips them. */
export function nameserversOf(resolvConf: string): UpstreamServer[] {
  const servers: UpstreamServer[] = [];
  for (const line of resolvConf.split('\n')) {
    const [keyword, address] = line.trim().split(/\s+/);
    // A zone index (fe80::1%eth0) names an interface of the host, not of the node's namespace.
    if (keyword === 'nameserver' && address !== undefined && !address.includes('%') && isIP(address) !== 0) servers.push({ address, port: DNS_PORT });
  }
  return servers;
}

/**
 * `ADDR[:PORT],...` (an IPv6 address with a port in brackets: `[::1]:5353`), or `none` for no
 * forwarding at all. Throws on anything else, naming the part it could not read.
 */
export function parseUpstreamList(text: string): UpstreamServer[] {
  if (text.trim() === 'none') return [];
  return text.split(',').map((part) => {
    const item = part.trim();
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
    const colon = item.indexOf(':');
    const [address, port] = bracketed
      ? [bracketed[1], bracketed[2]]
      : isIP(item) === 6 || colon < 0
        ? [item, undefined]
        : [item.slice(0, colon), item.slice(colon + 1)];
    if (address === undefined || isIP(address) === 0) throw new Error(`not an IP address: ${JSON.stringify(item)}`);
    const number = port === undefined ? DNS_PORT : Number(port);
    if (!/^\d+$/.test(port ?? '53') || number < 1 || number > 65535) throw new Error(`not a port: ${JSON.stringify(item)}`);
    return { address, port: number };
  });
}
