/**
 * Frees what committed changes let go of: a deleted network's VNI and subnet, the addresses and
 * ports an object held before a change or a deletion and holds no more (holdings.ts). Releasing
 * only after the commit means nothing is handed out again while the store still says it is taken,
 * whoever made the change (the control API, the reaper, a node removal).
 */
import type { StoreEvent } from '../../store/types.js';
import type { AllocatorState } from './allocator-state.js';
import { addressKey, dropped, nodeAddresses, portKey, serviceVips, servicePorts, taskAddresses, type AddressHolding } from './holdings.js';

/** Applies one event's releases; true when anything was freed (waiting allocations may now fit). */
export function releaseFor(state: AllocatorState, event: StoreEvent): boolean {
  if (event.action === 'create') return false;
  switch (event.kind) {
    case 'network':
      if (event.action === 'delete') state.releaseNetwork(event.object);
      return event.action === 'delete';
    case 'service': {
      const [before, after] = event.action === 'update' ? [event.old, event.object] : [event.object, undefined];
      const id = before.meta?.id ?? '';
      const ports = dropped(servicePorts(before), servicePorts(after), portKey);
      for (const port of ports) state.ports.release(port.protocol, port.publishedPort, id);
      return releaseAddresses(state, serviceVips(before), serviceVips(after)) || ports.length > 0;
    }
    case 'task': {
      const [before, after] = event.action === 'update' ? [event.old, event.object] : [event.object, undefined];
      return releaseAddresses(state, taskAddresses(before), taskAddresses(after));
    }
    case 'node': {
      const [before, after] = event.action === 'update' ? [event.old, event.object] : [event.object, undefined];
      return releaseAddresses(state, nodeAddresses(before), nodeAddresses(after));
    }
    default:
      return false;
  }
}

function releaseAddresses(state: AllocatorState, before: AddressHolding[], after: AddressHolding[]): boolean {
  const gone = dropped(before, after, addressKey);
  for (const a of gone) state.releaseAddress(a.networkId, a.address);
  return gone.length > 0;
}
