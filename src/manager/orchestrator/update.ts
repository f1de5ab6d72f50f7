/**
 * The update supervisor: runs a rolling update (an UpdateRun) whenever a service's spec version
 * changes, with the update config, or with the rollback config when the service says
 * ROLLBACK_STARTED (an automatic rollback, or `service rollback` through the control API). A newer
 * spec supersedes the run in flight; a paused update does nothing until the spec changes again. A
 * new leader resumes every update the store says is in progress.
 */
import { UpdateState, type Service } from '../../../proto/gen/objects.js';
import type { StoreEvent } from '../../store/types.js';
import { NotLeaderError } from '../../store/types.js';
import type { LoopDeps } from './loop.js';
import { taskId } from './task.js';
import { UpdateRun } from './update-run.js';

export class UpdateSupervisor {
  /** The latest run of each service (the one task events go to). */
  private readonly runs = new Map<string, UpdateRun>();
  /** Per service, the promise of its runs one after the other: a run starts once the one it supersedes has unwound. */
  private readonly chains = new Map<string, Promise<void>>();
  private unwatch: (() => void) | undefined;

  constructor(private readonly deps: LoopDeps) {}

  start(): void {
    if (this.unwatch !== undefined) return;
    this.unwatch = this.deps.store.watch((events) => this.onEvents(events));
    this.deps.store.view((tx) => {
      for (const service of tx.services.all()) if (inProgress(service)) this.begin(service);
    });
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    for (const run of this.runs.values()) run.abort();
    this.runs.clear();
  }

  /** True when no update is running (tests wait for it). */
  idle(): boolean {
    return this.runs.size === 0;
  }

  private onEvents(events: readonly StoreEvent[]): void {
    for (const event of events) {
      if (event.kind === 'service') {
        const id = event.object.meta?.id ?? '';
        if (event.action === 'delete') this.end(id);
        else if (event.action === 'update' && event.object.specVersion !== event.old.specVersion) this.begin(event.object);
      } else if (event.kind === 'task') {
        const run = this.runs.get(event.object.serviceId);
        run?.onTask(event.action === 'delete' ? undefined : event.object, taskId(event.object));
      }
    }
  }

  private begin(service: Service): void {
    const id = service.meta?.id ?? '';
    this.end(id);
    if (isPaused(service)) return;
    const run = new UpdateRun(this.deps, id, service.specVersion);
    this.runs.set(id, run);
    const previous = this.chains.get(id) ?? Promise.resolve();
    const chain = previous
      .then(() => run.execute())
      .catch((err: unknown) => {
        run.abort();
        if (err instanceof NotLeaderError) return;
        this.deps.logger.error({ service: id, err }, 'rolling update failed');
      })
      .finally(() => {
        if (this.runs.get(id) === run) this.runs.delete(id);
        if (this.chains.get(id) === chain) this.chains.delete(id);
      });
    this.chains.set(id, chain);
  }

  private end(serviceId: string): void {
    this.runs.get(serviceId)?.abort();
    this.runs.delete(serviceId);
  }
}

function inProgress(service: Service): boolean {
  const state = service.updateStatus?.state;
  return state === UpdateState.UPDATE_STATE_UPDATING || state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
}

function isPaused(service: Service): boolean {
  const state = service.updateStatus?.state;
  return state === UpdateState.UPDATE_STATE_PAUSED || state === UpdateState.UPDATE_STATE_ROLLBACK_PAUSED;
}
