/**
 * The Control calls on services. They run on the leader: reads from its store, writes through
 * store.update (one transaction each, so a refusal writes nothing).
 */
import { status } from '@grpc/grpc-js';
import type {
  CreateServiceRequest,
  GetServiceRequest,
  ListServicesRequest,
  ListServicesResponse,
  RemoveServiceRequest,
  RemoveServiceResponse,
  ServiceResponse,
  UpdateServiceRequest,
} from '../../../proto/gen/control.js';
import { ServiceSpec, UpdateState, type Service } from '../../../proto/gen/objects.js';
import { newId } from '../../common/ids.js';
import { StoreConflictError, type Store, type WriteTx } from '../../store/types.js';
import type { AllocatorAccess } from '../allocator/allocator-access.js';
import { allocatorReady, withUndo } from './allocation.js';
import { compareStrings } from './compare.js';
import { ControlError } from './control-errors.js';
import { findService, notFound } from './lookup.js';
import { resolveNetworks } from './network-refs.js';
import { serviceTaskCounts } from './service-counts.js';
import { serviceEndpoint, specNeedsAllocator } from './service-endpoint.js';
import { sameServiceSpec } from './spec-equality.js';
import { validateServiceSpec } from './validate-spec.js';

export interface ServiceHandlerDeps {
  store: Store;
  /** Wall-clock ms since the epoch, for update status timestamps. */
  now: () => number;
  /** The leader's network allocator, for services with networks or published ports. */
  allocator?: AllocatorAccess;
}

export function serviceHandlers({ store, now, allocator }: ServiceHandlerDeps) {
  /** The service as stored after a write (which is when its meta.version is known). */
  const stored = (id: string): ServiceResponse => {
    const service = store.view((tx) => tx.services.get(id));
    if (service === undefined) throw notFound('service', id);
    return { service };
  };

  return {
    async createService(req: CreateServiceRequest): Promise<ServiceResponse> {
      const spec = validateServiceSpec(req.spec ?? ServiceSpec.fromPartial({}));
      const name = spec.annotations!.name;
      const id = newId();
      if (specNeedsAllocator(spec)) await allocatorReady(allocator);
      try {
        await withUndo((onUndo) =>
          store.update((tx) => {
            if (tx.services.byName(name) !== undefined) throw alreadyExists(name);
            const resolved = resolveNetworks(tx, spec);
            const endpoint = serviceEndpoint(tx, allocator, id, resolved, undefined, onUndo);
            tx.services.create({
              meta: { id, version: 0, createdAt: 0, updatedAt: 0 },
              spec: resolved,
              previousSpec: undefined,
              specVersion: 1,
              updateStatus: undefined,
              endpoint,
            });
          }),
        );
      } catch (err) {
        // Two creates racing for one name: the second fails when it applies.
        if (err instanceof StoreConflictError && store.view((tx) => tx.services.byName(name)) !== undefined) throw alreadyExists(name);
        throw err;
      }
      return stored(id);
    },

    async getService(req: GetServiceRequest): Promise<ServiceResponse> {
      return { service: store.view((tx) => findService(tx, req.id)) };
    },

    async listServices(req: ListServicesRequest): Promise<ListServicesResponse> {
      return store.view((tx) => {
        const names = new Set(req.names);
        const labelFilter = Object.entries(req.labels);
        const services = tx.services
          .all()
          .filter((service) => names.size === 0 || names.has(service.spec?.annotations?.name ?? ''))
          .filter((service) => {
            const labels = service.spec?.annotations?.labels ?? {};
            return labelFilter.every(([key, value]) => key in labels && (value === '' || labels[key] === value));
          })
          .sort((a, b) => compareStrings(a.spec?.annotations?.name ?? '', b.spec?.annotations?.name ?? ''));
        const runningTasks: Record<string, number> = {};
        const desiredTasks: Record<string, number> = {};
        for (const service of services) {
          const counts = serviceTaskCounts(service, tx.tasks.byService(service.meta!.id));
          runningTasks[service.meta!.id] = counts.running;
          desiredTasks[service.meta!.id] = counts.desired;
        }
        return { services, runningTasks, desiredTasks };
      });
    },

    async updateService(req: UpdateServiceRequest): Promise<ServiceResponse> {
      // Validate before the transaction: a bad spec is refused whatever the stored state.
      const spec = req.rollback ? undefined : validateServiceSpec(req.spec ?? ServiceSpec.fromPartial({}));
      // A rollback may return to networks or ports: it waits for the allocator whenever there is one.
      if (spec === undefined ? allocator !== undefined : specNeedsAllocator(spec)) await allocatorReady(allocator);
      const id = await withUndo((onUndo) =>
        store.update((tx) => {
          const current = findService(tx, req.id);
          checkVersion(current, req.version);
          const next = spec === undefined ? rolledBack(current, now()) : updated(current, resolveNetworks(tx, spec), now());
          if (next !== undefined) {
            const endpoint = serviceEndpoint(tx, allocator, current.meta!.id, next.spec!, current.endpoint, onUndo);
            tx.services.update({ ...next, endpoint });
          }
          return current.meta!.id;
        }),
      );
      return stored(id);
    },

    async removeService(req: RemoveServiceRequest): Promise<RemoveServiceResponse> {
      await store.update((tx: WriteTx) => tx.services.delete(findService(tx, req.id)));
      return {};
    },
  };
}

function checkVersion(service: Service, version: number): void {
  const stored = service.meta!.version;
  if (version !== stored) {
    throw new ControlError(
      status.ABORTED,
      `update out of sequence: service ${serviceName(service)} is at version ${stored}, the update was based on version ${version}; read it again and retry`,
    );
  }
}

/** The service with `spec` in force, or undefined when `spec` changes nothing. */
function updated(current: Service, spec: ServiceSpec, now: number): Service | undefined {
  const old = current.spec!;
  if (sameServiceSpec(old, spec)) return undefined;
  if (spec.annotations!.name !== old.annotations?.name) {
    throw new ControlError(status.INVALID_ARGUMENT, `invalid spec: annotations.name: renaming service ${serviceName(current)} is not supported`);
  }
  if (spec.mode?.$case !== old.mode?.$case) {
    throw new ControlError(
      status.INVALID_ARGUMENT,
      `invalid spec: mode: service ${serviceName(current)} is ${old.mode?.$case}; its mode cannot change (remove it and create it again)`,
    );
  }
  return {
    ...current,
    spec,
    previousSpec: old,
    specVersion: current.specVersion + 1,
    updateStatus: { state: UpdateState.UPDATE_STATE_UPDATING, startedAt: now, completedAt: 0, message: 'update in progress' },
  };
}

function rolledBack(current: Service, now: number): Service {
  if (current.previousSpec === undefined) {
    throw new ControlError(status.FAILED_PRECONDITION, `service ${serviceName(current)} has no previous spec to roll back to`);
  }
  return {
    ...current,
    spec: current.previousSpec,
    previousSpec: current.spec,
    specVersion: current.specVersion + 1,
    updateStatus: { state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED, startedAt: now, completedAt: 0, message: 'manually requested rollback' },
  };
}

function alreadyExists(name: string): ControlError {
  return new ControlError(status.ALREADY_EXISTS, `service ${name} already exists`);
}

function serviceName(service: Service): string {
  return service.spec?.annotations?.name ?? service.meta!.id;
}
