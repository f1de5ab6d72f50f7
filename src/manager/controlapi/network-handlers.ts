/**
 * The Control calls on networks. Create allocates the VNI, subnet and gateway on the leader and
 * writes the network in the same step; Remove is refused while anything uses the network, and
 * its VNI and subnet are released by the allocator once the deletion is committed.
 */
import { status } from '@grpc/grpc-js';
import type {
  CreateNetworkRequest,
  GetNetworkRequest,
  ListNetworksRequest,
  ListNetworksResponse,
  NetworkResponse,
  RemoveNetworkRequest,
  RemoveNetworkResponse,
} from '../../../proto/gen/control.js';
import { NetworkSpec, type Network } from '../../../proto/gen/objects.js';
import { newId } from '../../common/ids.js';
import type { ReadTx, Store } from '../../store/types.js';
import type { AllocatorAccess } from '../allocator/allocator-access.js';
import { servicePorts } from '../allocator/holdings.js';
import { findIngress, publishesIngress } from '../allocator/needs-allocation.js';
import { allocatorReady, currentAllocator, withUndo } from './allocation.js';
import { compareStrings } from './compare.js';
import { ControlError } from './control-errors.js';
import { findNetwork, networkByName, notFound } from './lookup.js';
import { validateNetworkSpec } from './validate-network-spec.js';

export interface NetworkHandlerDeps {
  store: Store;
  allocator?: AllocatorAccess;
}

export function networkHandlers({ store, allocator }: NetworkHandlerDeps) {
  /**
   * Names of networks whose create is in flight: two creates of one name both pass the store
   * check before either applies, and networks have no name index in the store to refuse the second.
   */
  const creating = new Set<string>();

  return {
    async createNetwork(req: CreateNetworkRequest): Promise<NetworkResponse> {
      const spec = validateNetworkSpec(req.spec ?? NetworkSpec.fromPartial({}));
      const name = spec.annotations!.name;
      await allocatorReady(allocator);
      const id = newId();
      if (creating.has(name)) throw alreadyExists(name);
      creating.add(name);
      try {
        await withUndo((onUndo) =>
          store.update((tx) => {
            if (networkByName(tx, name) !== undefined) throw alreadyExists(name);
            const ingress = findIngress(tx);
            if (spec.ingress && ingress !== undefined) {
              throw new ControlError(status.FAILED_PRECONDITION, `network ${ingress.spec?.annotations?.name} is already the ingress network; there can be only one`);
            }
            const state = currentAllocator(allocator);
            const { vni, subnet, gateway } = state.allocateNetwork(id, spec.subnet);
            const network: Network = { meta: { id, version: 0, createdAt: 0, updatedAt: 0 }, spec, vni, subnet, gateway };
            onUndo(() => state.releaseNetwork(network));
            tx.networks.create(network);
          }),
        );
      } finally {
        creating.delete(name);
      }
      const network = store.view((tx) => tx.networks.get(id));
      if (network === undefined) throw notFound('network', id);
      return { network };
    },

    async getNetwork(req: GetNetworkRequest): Promise<NetworkResponse> {
      return { network: store.view((tx) => findNetwork(tx, req.id)) };
    },

    async listNetworks(req: ListNetworksRequest): Promise<ListNetworksResponse> {
      const names = new Set(req.names);
      const networks = store
        .view((tx) => tx.networks.all())
        .filter((n) => names.size === 0 || names.has(n.spec?.annotations?.name ?? ''))
        .sort((a, b) => compareStrings(a.spec?.annotations?.name ?? '', b.spec?.annotations?.name ?? ''));
      return { networks };
    },

    async removeNetwork(req: RemoveNetworkRequest): Promise<RemoveNetworkResponse> {
      await store.update((tx) => {
        const network = findNetwork(tx, req.id);
        const reason = inUse(tx, network);
        if (reason !== undefined) throw new ControlError(status.FAILED_PRECONDITION, `network ${networkName(network)} is in use: ${reason}`);
        tx.networks.delete(network);
      });
      return {};
    },
  };
}

/** Why the network cannot go yet, or undefined. Dead tasks count until the reaper deletes them: they still hold addresses. */
function inUse(tx: ReadTx, network: Network): string | undefined {
  const id = network.meta!.id;
  const services = tx.services
    .all()
    .filter((s) =>
      network.spec?.ingress
        ? publishesIngress(s.spec) || servicePorts(s).length > 0
        : (s.spec?.task?.networks ?? []).some((n) => n.target === id),
    )
    .map((s) => s.spec?.annotations?.name ?? s.meta!.id)
    .sort(compareStrings);
  const named = `service${services.length > 1 ? 's' : ''} ${services.join(', ')}`;
  if (services.length > 0) return network.spec?.ingress ? `${named} publish${services.length > 1 ? '' : 'es'} ports through it` : `used by ${named}`;
  const tasks = tx.tasks.all().filter((t) => t.networks.some((a) => a.networkId === id)).length;
  if (tasks > 0) return `${tasks} task${tasks > 1 ? 's' : ''} still hold addresses on it; try again once they are removed`;
  return undefined;
}

function networkName(network: Network): string {
  return network.spec?.annotations?.name ?? network.meta!.id;
}

function alreadyExists(name: string): ControlError {
  return new ControlError(status.ALREADY_EXISTS, `network ${name} already exists`);
}
