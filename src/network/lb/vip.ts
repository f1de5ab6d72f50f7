/**
 * Service VIPs inside one container's network namespace, as Docker balances them (there with IPVS,
 * here with nftables): a connection the container opens to a VIP is DNATed, in the namespace's
 * own output path, to one of the service's task addresses, so it leaves the container already
 * addressed to a real task and the reply comes straight back, with conntrack undoing the
 * translation. Every port and protocol of a VIP is balanced, as Docker's VIPs do: a VIP stands for
 * the whole service, which listens where it likes.
 *
 * A VIP with no backend must refuse at once, not black-hole: no device holds a VIP, so a packet
 * that was not translated would wait for an ARP answer that never comes. A filter chain after the
 * NAT one therefore rejects whatever still goes to a VIP: TCP with a reset, anything else with
 * ICMP port unreachable.
 *
 * Table `shoal_lb`, for N services (VIPs in numeric order, `svc_<i>` per VIP with backends):
 *   set vips           every VIP, for the reject rule
 *   chain svc_<i>      dnat to numgen inc mod <backends> map { 0 : <task>, ... }
 *   chain output_nat   output hook, priority -100: ip daddr vmap { <vip> : goto svc_<i>, ... }
 *   chain output_filter output hook, priority 0: ip daddr @vips reject
 */
import { applyTable, removeTable, type NftTable } from './nft.js';
import { canonicalAddress, roundRobin, sortedAddresses } from './values.js';

export const VIP_TABLE = 'shoal_lb';

export interface VipService {
  /** The service's VIP on a network the container is on (an address, not CIDR). */
  vip: string;
  /** The addresses of the service's running (and healthy) tasks on that network; none is allowed. */
  backends: readonly string[];
}

export function renderVipTable(services: readonly VipService[]): NftTable {
  const byVip = new Map<string, string[]>();
  for (const s of services) {
    const vip = canonicalAddress(s.vip);
    if (byVip.has(vip)) throw new Error(`VIP ${vip} is given twice`);
    byVip.set(vip, sortedAddresses(s.backends));
  }
  const vips = sortedAddresses([...byVip.keys()]);
  for (const backends of byVip.values()) {
    const vip = backends.find((b) => byVip.has(b));
    if (vip !== undefined) throw new Error(`VIP ${vip} is given as a backend`);
  }

  const lines: string[] = [];
  lines.push(vips.length > 0 ? `set vips { type ipv4_addr; elements = { ${vips.join(', ')} }; }` : 'set vips { type ipv4_addr; }');
  const dispatch: string[] = [];
  vips.forEach((vip, i) => {
    const backends = byVip.get(vip)!;
    if (backends.length === 0) return;
    lines.push(`chain svc_${i} { dnat to ${roundRobin(backends)}; }`);
    dispatch.push(`${vip} : goto svc_${i}`);
  });
  lines.push('chain output_nat {', '\ttype nat hook output priority -100; policy accept;');
  if (dispatch.length > 0) lines.push(`\tip daddr vmap { ${dispatch.join(', ')} }`);
  lines.push('}');
  lines.push(
    'chain output_filter {',
    '\ttype filter hook output priority 0; policy accept;',
    '\tip daddr @vips meta l4proto tcp reject with tcp reset',
    '\tip daddr @vips reject',
    '}',
  );
  return { name: VIP_TABLE, body: lines.map((l) => `\t${l}\n`).join('') };
}

/**
 * Makes the namespace balance exactly these VIPs, replacing the whole table at once; no change
 * (and no write) when it already does. The container's UDP flows to backends no VIP has any more
 * are forgotten, so their next datagram goes to a backend that is still there. `containerNetns` is
 * a name under /run/netns or a path such as /proc/PID/ns/net. Returns whether the table was written.
 */
export function programVips(containerNetns: string, services: readonly VipService[]): Promise<boolean> {
  return applyTable(containerNetns, renderVipTable(services));
}

/** Removes the namespace's VIP table, if any. A container's table goes with its namespace anyway. */
export function removeVips(containerNetns: string): Promise<void> {
  return removeTable(containerNetns, VIP_TABLE);
}
