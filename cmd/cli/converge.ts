/**
 * Waits for a service to converge after `service create`, `update`, `scale` or `rollback`, drawing
 * progress, as docker does without --detach. It polls the service, its tasks and the nodes.
 *
 * When it is done:
 * - every desired task of the current spec runs, and the manager's update (if one runs) finished.
 *   If the manager reported the update complete it has already watched the new tasks for the
 *   monitor period; otherwise (a create, or an update the manager did not mark complete yet) the
 *   CLI watches them itself for that period ("verify: Waiting N seconds ...").
 * - a paused update or rollback ends the wait with the manager's message (exit 1);
 * - an update the manager rolled back ends it with the reason for the rollback once the rollback
 *   has converged (exit 1), unless the command was the rollback itself.
 */
import type { ListNodesResponse, ListTasksRequest } from '../../proto/gen/control.js';
import { NodeState, UpdateState, UpdateStatus, type Service, type Task } from '../../proto/gen/objects.js';
import { DEFAULT_UPDATE_CONFIG } from '../../src/manager/controlapi/spec-defaults.js';
import { CliError } from './errors.js';
import type { Io } from './io.js';
import { LineProgress, ProgressTracker, TerminalProgress, type ProgressLine } from './progress.js';

/** What the watch needs of the control API (a fake in tests). */
export interface WatchApi {
  getService(id: string): Promise<Service>;
  listTasks(request: Partial<ListTasksRequest>): Promise<Task[]>;
  listNodes(): Promise<ListNodesResponse>;
}

export interface WatchOptions {
  /** The command was `service rollback`: a completed rollback is success. */
  readonly expectRollback: boolean;
  /**
   * The update status read before the command wrote. A finished status identical to it belongs to
   * an earlier update (the write changed nothing), so it says nothing about this one.
   */
  readonly statusBefore: UpdateStatus | undefined;
  readonly pollMs?: number;
}

const POLL_MS = 300;

export async function watchService(api: WatchApi, serviceId: string, io: Io, options: WatchOptions): Promise<void> {
  const tracker = new ProgressTracker();
  const renderer = io.out.isTTY ? new TerminalProgress(io.out) : new LineProgress(io.out);
  const notes = new Map<string, string>();
  const show = (lines: readonly ProgressLine[]): void =>
    renderer.show([...lines, ...[...notes].map(([id, text]) => ({ id, text }))]);
  let interrupted = false;
  void io.interrupted().then(() => (interrupted = true));
  let convergedAt: number | undefined;
  let rollback = false;
  let rollbackReason: string | undefined;

  for (;;) {
    const service = await api.getService(serviceId);
    const status = freshStatus(service.updateStatus, options.statusBefore);
    const state = status?.state;
    if (state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED || state === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED) {
      notes.set('rollback', status!.message);
      // The message that started the rollback says why; the one that ends it only that it is done.
      if (state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED) rollbackReason ??= status!.message;
      rollback = true;
    } else if (state === UpdateState.UPDATE_STATE_UPDATING) {
      rollback = false;
    }

    const [tasks, nodes] = await Promise.all([api.listTasks({ serviceIds: [service.meta!.id] }), api.listNodes()]);
    const active = new Set(nodes.nodes.filter((n) => n.status?.state !== NodeState.NODE_STATE_DOWN).map((n) => n.meta!.id));
    const view = tracker.update(service, tasks, active, rollback);

    if (state === UpdateState.UPDATE_STATE_PAUSED || state === UpdateState.UPDATE_STATE_ROLLBACK_PAUSED) {
      show(view.lines);
      const what = state === UpdateState.UPDATE_STATE_PAUSED ? 'update' : 'rollback';
      throw new CliError(`service ${what} paused: ${status!.message}`);
    }

    const inProgress = state === UpdateState.UPDATE_STATE_UPDATING || state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
    // An update still marked in progress with no old task left is in its final monitor window.
    const settled = !inProgress || view.outdated === 0;
    if (view.converged && settled) {
      const now = io.now();
      convergedAt ??= now;
      const finished = state === UpdateState.UPDATE_STATE_COMPLETED || state === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED;
      const remaining = finished ? 0 : monitorMs(service, rollback) - (now - convergedAt);
      if (remaining <= 0) {
        notes.set('verify', 'Service converged');
        show(view.lines);
        if (state === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED && !options.expectRollback) {
          throw new CliError(`service rolled back: ${rollbackReason ?? status!.message}`);
        }
        return;
      }
      notes.set('verify', `Waiting ${Math.ceil(remaining / 1000)} seconds to verify that tasks are stable...`);
    } else if (convergedAt !== undefined) {
      notes.set('verify', 'Detected task failure');
      convergedAt = undefined;
    }
    show(view.lines);

    await Promise.race([io.sleep(options.pollMs ?? POLL_MS), io.interrupted()]);
    if (interrupted) {
      io.out.write(`Operation continuing in background.\nUse \`shoal service ps ${serviceId}\` to check progress.\n`);
      return;
    }
  }
}

function freshStatus(status: UpdateStatus | undefined, before: UpdateStatus | undefined): UpdateStatus | undefined {
  if (status === undefined) return undefined;
  const inProgress = status.state === UpdateState.UPDATE_STATE_UPDATING || status.state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
  if (inProgress || before === undefined) return status;
  return Buffer.from(UpdateStatus.encode(status).finish()).equals(UpdateStatus.encode(before).finish()) ? undefined : status;
}

/** How long tasks are watched after they all run: the update (or rollback) config's monitor period. */
function monitorMs(service: Service, rollback: boolean): number {
  const config = rollback ? service.spec?.rollback : service.spec?.update;
  return (config ?? DEFAULT_UPDATE_CONFIG).monitorMs;
}
