/**
 * A new leader's allocator, rebuilt from its store: every network's VNI and subnet, then every
 * address and port the objects hold (holdings.ts), reserved before anything new is given out.
 * Conflicts found in the store (which should never happen) are reported, not repaired: the
 * objects keep what they have, and the second holder is logged.
 */
import type { ReadTx } from '../../store/types.js';
import { AllocatorState } from './allocator-state.js';
import { nodeAddresses, serviceVips, servicePorts, taskAddresses, type AddressHolding } from './holdings.js';

export function rebuildAllocator(tx: ReadTx, state = new AllocatorState()): { state: AllocatorState; problems: string[] } {
  const problems: string[] = [];
  for (const network of tx.networks.all()) problems.push(...state.restoreNetwork(network));
  const reserve = (owner: string, holdings: AddressHolding[]) => {
    for (const h of holdings) {
      if (!state.reserveAddress(h.networkId, h.address)) problems.push(`${owner}: address ${h.address} on network ${h.networkId} is taken twice or off its network`);
    }
  };
  for (const service of tx.services.all()) {
    const id = service.meta?.id ?? '';
    reserve(`service ${id}`, serviceVips(service));
    for (const port of servicePorts(service)) {
      const holder = state.ports.claim(port.protocol, port.publishedPort, id);
      if (holder !== undefined) problems.push(`service ${id}: published port ${port.publishedPort} is also held by service ${holder}`);
    }
  }
  for (const task of tx.tasks.all()) reserve(`task ${task.meta?.id ?? ''}`, taskAddresses(task));
  for (const node of tx.nodes.all()) reserve(`node ${node.meta?.id ?? ''}`, nodeAddresses(node));
  return { state, problems };
}
