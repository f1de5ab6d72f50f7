/**
 * Steps the service and stack commands share: read-modify-write of a service spec (retried when
 * another writer got there first) and waiting for convergence unless detached.
 */
import { status } from '@grpc/grpc-js';
import type { Service, ServiceSpec } from '../../proto/gen/objects.js';
import { ApiError, type ControlApi } from './client.js';
import type { CommandContext } from './command.js';
import { watchService } from './converge.js';
import type { Io } from './io.js';

/** Attempts at a read-modify-write before a conflict is reported (each re-reads the service). */
const UPDATE_ATTEMPTS = 3;

export interface UpdateOutcome {
  readonly before: Service;
  readonly after: Service;
}

/**
 * Reads the service, applies `change` to its spec and writes it back naming the version read. A
 * concurrent write (ABORTED) makes it read and apply again.
 */
export async function updateServiceSpec(api: ControlApi, ref: string, change: (spec: ServiceSpec, service: Service) => ServiceSpec): Promise<UpdateOutcome> {
  for (let attempt = 1; ; attempt++) {
    const before = await api.getService(ref);
    const spec = change(before.spec!, before);
    try {
      const after = await api.updateService({ id: before.meta!.id, version: before.meta!.version, spec, rollback: false });
      return { before, after };
    } catch (error) {
      if (error instanceof ApiError && error.code === status.ABORTED && attempt < UPDATE_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** An Io whose stdout goes nowhere: `--quiet` still waits, silently, as docker does. */
function quietIo(io: Io): Io {
  return { ...io, out: { write: () => undefined, isTTY: false } };
}

export interface WaitRequest {
  readonly service: Service;
  /** The service's update status before this command wrote (undefined for a create). */
  readonly statusBefore: Service['updateStatus'];
  readonly expectRollback?: boolean;
  readonly detach: boolean;
  readonly quiet: boolean;
}

/** Follows the service to convergence unless detached; quiet waits without drawing. */
export async function waitUnlessDetached(ctx: CommandContext, request: WaitRequest): Promise<number> {
  if (request.detach) return 0;
  const io = request.quiet ? quietIo(ctx.io) : ctx.io;
  await watchService(ctx.api(), request.service.meta!.id, io, {
    expectRollback: request.expectRollback ?? false,
    statusBefore: request.statusBefore,
  });
  return 0;
}
