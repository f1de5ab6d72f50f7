/**
 * The node's `shoal_gateway` table (pure; `bridge.ts` writes it), for the gateway bridge's subnet:
 *
 * - postrouting: traffic from the subnet leaving by any other interface is masqueraded to that
 *   interface's address, so a container attached for its published ports also reaches the world,
 *   as docker_gwbridge gives it (Docker's `enable_ip_masquerade`).
 * - forward: nothing is routed from the bridge back onto the bridge. Port isolation already keeps
 *   containers apart on the bridge itself (layer 2); this keeps a container from reaching another
 *   by sending to the gateway (layer 3), which Docker's `enable_icc=false` forbids as well.
 *
 * A drop here is final; an accept (the policy) ends only this table's chain, so a host firewall
 * dropping in a forward chain of its own still has the last word.
 */
import { formatSubnet, type Subnet } from '../../common/ipv4.js';
import type { NftTable } from '../lb/nft.js';

export const GATEWAY_TABLE = 'shoal_gateway';

export function renderGatewayTable(bridge: string, subnet: Subnet): NftTable {
  const body = [
    'chain forward {',
    '\ttype filter hook forward priority 0; policy accept;',
    `\tiifname "${bridge}" oifname "${bridge}" drop`,
    '}',
    'chain postrouting {',
    '\ttype nat hook postrouting priority 100; policy accept;',
    `\tip saddr ${formatSubnet(subnet)} oifname != "${bridge}" masquerade`,
    '}',
  ];
  return { name: GATEWAY_TABLE, body: body.map((l) => `\t${l}\n`).join('') };
}
