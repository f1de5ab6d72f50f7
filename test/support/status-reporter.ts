/**
 * Batches a fake node's task status reports, as an agent does: reports gathered for `batchMs` go in
 * one UpdateTaskStatus call, only a task's newest status is kept, and reports made while the node
 * has no session wait for the next one. A failed call puts its reports back unless newer ones came.
 */
import type { TaskStatusUpdate } from '../../proto/gen/dispatcher.js';
import type { TaskStatus } from '../../proto/gen/objects.js';

export type SendStatus = (updates: TaskStatusUpdate[]) => Promise<void>;

export class StatusReporter {
  private pending = new Map<string, TaskStatus>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private send: SendStatus | undefined;

  constructor(private readonly batchMs: number) {}

  report(taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, status);
    this.schedule();
  }

  /** A session is open: reports go through `send`. */
  online(send: SendStatus): void {
    this.send = send;
    this.schedule();
  }

  /** No session: reports wait. */
  offline(): void {
    this.send = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Reports not yet accepted by a manager. */
  backlog(): number {
    return this.pending.size;
  }

  private schedule(): void {
    if (this.timer || this.inFlight || !this.send || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.batchMs);
  }

  private async flush(): Promise<void> {
    const send = this.send;
    if (!send || this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.inFlight = true;
    try {
      await send([...batch].map(([taskId, status]) => ({ taskId, status })));
    } catch {
      for (const [taskId, status] of batch) if (!this.pending.has(taskId)) this.pending.set(taskId, status);
    } finally {
      this.inFlight = false;
    }
    this.schedule();
  }
}
