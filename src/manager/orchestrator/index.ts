/**
 * The leader-only loops that turn services into tasks. The manager starts them when it becomes
 * the Raft leader and stops them when it loses leadership; each resyncs from the store on start.
 */
import { GlobalOrchestrator } from './global.js';
import type { LoopDeps } from './loop.js';
import { TaskReaper } from './reaper.js';
import { ReplicatedOrchestrator } from './replicated.js';
import { RestartSupervisor } from './restart.js';
import { UpdateSupervisor } from './update.js';

export { GlobalOrchestrator } from './global.js';
export { ReplicatedOrchestrator } from './replicated.js';
export { RestartSupervisor, restartTask, shutdownTask, STOP_WAIT_TIMEOUT_MS, type RestartOptions } from './restart.js';
export { UpdateSupervisor } from './update.js';
export { TaskReaper } from './reaper.js';
export type { LoopDeps } from './loop.js';
export { newTask, isRunnable, isFinished, isDirty, type TaskPlacement } from './task.js';
export { shouldRestart } from './restart-policy.js';

/** All five loops, started and stopped together. */
export class Orchestration {
  readonly restart: RestartSupervisor;
  readonly replicated: ReplicatedOrchestrator;
  readonly global: GlobalOrchestrator;
  readonly update: UpdateSupervisor;
  readonly reaper: TaskReaper;

  constructor(deps: LoopDeps) {
    this.restart = new RestartSupervisor(deps);
    this.replicated = new ReplicatedOrchestrator(deps);
    this.global = new GlobalOrchestrator(deps);
    this.update = new UpdateSupervisor(deps);
    this.reaper = new TaskReaper(deps);
  }

  start(): void {
    this.restart.start();
    this.replicated.start();
    this.global.start();
    this.update.start();
    this.reaper.start();
  }

  /** Safe at any time, and more than once. */
  stop(): void {
    this.reaper.stop();
    this.update.stop();
    this.global.stop();
    this.replicated.stop();
    this.restart.stop();
  }
}
