import type { ReadState, ServerId } from '../types.js';

interface PendingRead {
  ctx: number;
  /** The commit index when the read was requested: reads are served once applied reaches it. */
  index: number;
  acks: Set<ServerId>;
}

/**
 * ReadIndex bookkeeping as in etcd's safe read-only mode: a read is confirmed once a quorum of voters
 * answered a heartbeat sent after it was requested. Contexts increase, so an acknowledgement of
 * context c confirms every pending read with ctx <= c.
 */
export class ReadOnlyQueue {
  private pending: PendingRead[] = [];

  add(ctx: number, index: number, selfAck: ServerId | undefined): void {
    const acks = new Set<ServerId>();
    if (selfAck !== undefined) acks.add(selfAck);
    this.pending.push({ ctx, index, acks });
  }

  /** The context to piggyback on heartbeats (0 when nothing waits). */
  lastCtx(): number {
    return this.pending.length === 0 ? 0 : this.pending[this.pending.length - 1].ctx;
  }

  recordAck(from: ServerId, ctx: number): void {
    for (const p of this.pending) {
      if (p.ctx > ctx) break;
      p.acks.add(from);
    }
  }

  /** Removes and returns the reads confirmed by a quorum (a prefix: acks for later reads imply earlier ones). */
  takeConfirmed(confirmed: (acks: ReadonlySet<ServerId>) => boolean): ReadState[] {
    let n = 0;
    for (let i = 0; i < this.pending.length; i++) {
      if (confirmed(this.pending[i].acks)) n = i + 1;
    }
    const done = this.pending.slice(0, n);
    this.pending = this.pending.slice(n);
    return done.map((p) => ({ ctx: p.ctx, index: p.index }));
  }

  reset(): void {
    this.pending = [];
  }
}
