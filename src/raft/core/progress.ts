/**
 * The leader's view of one follower's replication, after etcd's tracker: in `probe` it sends one
 * AppendEntries at a time until it finds where the logs match; in `replicate` it streams entries
 * optimistically, bounded by an inflight window; in `snapshot` it waits for an InstallSnapshot.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The last index of each unacknowledged AppendEntries sent in replicate state, oldest first. */
export class Inflights {
  private lasts: number[] = [];

  constructor(readonly capacity: number) {}

  get count(): number {
    return this.lasts.length;
  }

  full(): boolean {
    return this.lasts.length >= this.capacity;
  }

  add(lastIndex: number): void {
    this.lasts.push(lastIndex);
  }

  /** An acknowledgement up to index covers every message that ended at or below it. */
  freeTo(index: number): void {
    let n = 0;
    while (n < this.lasts.length && this.lasts[n] <= index) n++;
    if (n > 0) this.lasts = this.lasts.slice(n);
  }

  /** Lets one more message out when acknowledgements may have been lost. */
  freeFirstOne(): void {
    this.lasts = this.lasts.slice(1);
  }

  reset(): void {
    this.lasts = [];
  }
}

export class Progress {
  /** The highest index known to match the leader's log. */
  match = 0;
  /** The next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** Probe state: an AppendEntries is outstanding, so wait for its answer (or a heartbeat answer). */
  probeSent = false;
  /** Snapshot state: the index of the snapshot sent, and ticks spent waiting for its answer. */
  pendingSnapshot = 0;
  snapshotTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** An empty append may be sent to find out where a silent follower stands; re-armed by every heartbeat,
   *  so such probes go at most once per heartbeat interval (see RaftCore.handleAppendResponse). */
  emptyProbeAllowed = true;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(Math.max(1, maxInflight));
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.snapshotTicks = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** Records an AppendEntries just sent whose entries end at lastIndex (undefined when it carried none). */
  sent(lastIndex: number | undefined): void {
    if (this.state === 'replicate') {
      if (lastIndex !== undefined) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** A success acknowledgement up to index. Returns whether match moved forward. */
  maybeUpdate(index: number): boolean {
    const updated = index > this.match;
    if (updated) {
      this.match = index;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the AppendEntries whose prevLogIndex was `rejected`; `probeHint` is the index the
   * leader expects the logs to match at. Returns false when the rejection is stale (already answered).
   */
  maybeDecrTo(rejected: number, probeHint: number): boolean {
    if (this.state === 'replicate') {
      // Pipelined messages may be rejected out of order: only one above match tells us anything.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, probeHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }
}
