/**
 * The two tables of the routing mesh, rendered from the node's published ports (pure; `ingress.ts`
 * writes them):
 *
 * `shoal_ingress` in the node's namespace: a connection to any of the node's own addresses on a
 * published port is DNATed, before routing, either to the ingress sandbox (ingress mode, port
 * unchanged: the sandbox picks the task and the target port) or straight to the local task's
 * address and target port (host mode). The same rules run in the output path for connections the
 * node opens to its own address; not for 127.0.0.0/8, which the kernel will not route to another
 * device.
 *
 * `shoal_ingress` in the ingress sandbox: a connection arriving from the node on a published port
 * is DNATed to one of the service's tasks on the ingress network (round robin, target port) and
 * masqueraded to the sandbox's own address on that network. The masquerade is what brings the
 * reply back: the task may be on another node and answers the address the packet came from, which
 * is unique to this node's sandbox, where conntrack undoes both translations. A port with no
 * tasks has no rule and is refused by the sandbox's own stack. Forwarding is allowed only for
 * those translated connections and their replies, so a container on the ingress network cannot
 * use the sandbox as a router onto the node.
 */
import type { NftTable } from './nft.js';
import { canonicalAddress, checkPort, checkProtocol, roundRobin, sortedAddresses, type Protocol } from './values.js';

export const INGRESS_TABLE = 'shoal_ingress';
/** The interface names inside the ingress sandbox: its link to the node, and its endpoint on the ingress network. */
export const SANDBOX_LINK_IFNAME = 'gw0';
export const SANDBOX_OVERLAY_IFNAME = 'eth0';

export interface PublishedPort {
  protocol: Protocol;
  /** The port on the node. */
  published: number;
  /** The port the tasks listen on. */
  target: number;
}

/** An ingress-mode port: answered on every node, balanced over the service's tasks on any node. */
export interface IngressPort extends PublishedPort {
  /** The tasks' addresses on the ingress network; none is allowed (the port is then refused). */
  backends: readonly string[];
}

/** A host-mode port: answered only on this node, by its local task. */
export interface HostPort extends PublishedPort {
  /** The local task's address as the node's namespace reaches it. */
  address: string;
}

/** Checked, canonical, in (protocol, published) order; a published port given twice is an error. */
function checkPorts<P extends PublishedPort>(ports: readonly P[], seen = new Set<string>()): P[] {
  const out = ports.map((p) => {
    const key = `${checkProtocol(p.protocol)}/${checkPort(p.published, 'published port')}`;
    checkPort(p.target, 'target port');
    if (seen.has(key)) throw new Error(`published port ${key} is given twice`);
    seen.add(key);
    return p;
  });
  return out.sort((a, b) => a.protocol.localeCompare(b.protocol) || a.published - b.published);
}

export function renderNodeTable(ingress: readonly PublishedPort[], host: readonly HostPort[], sandboxAddress: string): NftTable {
  const seen = new Set<string>();
  const rules = [
    ...checkPorts(ingress, seen).map((p) => `${p.protocol} dport ${p.published} dnat to ${canonicalAddress(sandboxAddress)}`),
    ...checkPorts(host, seen).map((p) => `${p.protocol} dport ${p.published} dnat to ${canonicalAddress(p.address)}:${p.target}`),
  ];
  const body = [
    'chain prerouting {',
    '\ttype nat hook prerouting priority -100; policy accept;',
    ...rules.map((r) => `\tfib daddr type local ${r}`),
    '}',
    'chain output {',
    '\ttype nat hook output priority -100; policy accept;',
    ...rules.map((r) => `\tip daddr != 127.0.0.0/8 fib daddr type local ${r}`),
    '}',
  ];
  return { name: INGRESS_TABLE, body: body.map((l) => `\t${l}\n`).join('') };
}

export function renderSandboxTable(ports: readonly IngressPort[]): NftTable {
  const link = `iifname "${SANDBOX_LINK_IFNAME}"`;
  const overlay = `oifname "${SANDBOX_OVERLAY_IFNAME}"`;
  const dnat = checkPorts(ports).flatMap((p) => {
    const backends = sortedAddresses(p.backends);
    return backends.length === 0 ? [] : [`${link} ${p.protocol} dport ${p.published} dnat to ${roundRobin(backends)} : ${p.target}`];
  });
  const body = [
    'chain prerouting {',
    '\ttype nat hook prerouting priority -100; policy accept;',
    ...dnat.map((r) => `\t${r}`),
    '}',
    'chain forward {',
    '\ttype filter hook forward priority 0; policy drop;',
    '\tct state established,related accept',
    `\t${link} ${overlay} ct status dnat accept`,
    '}',
    'chain postrouting {',
    '\ttype nat hook postrouting priority 100; policy accept;',
    `\t${overlay} masquerade`,
    '}',
  ];
  return { name: INGRESS_TABLE, body: body.map((l) => `\t${l}\n`).join('') };
}
