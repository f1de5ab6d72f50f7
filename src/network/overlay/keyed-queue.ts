/**
 * Runs async jobs one at a time per key, in call order, and jobs of different keys concurrently.
 * Each network's sandbox is changed by several steps (read, then change what differs); two tasks
 * joining the same network at once must not both find it missing and both create it.
 *
 * A shared job (`runShared`) runs concurrently with the other shared jobs of its key that are not
 * separated from it by an ordinary one, and in call order with the ordinary ones: it starts once
 * every ordinary job called before it has settled, and an ordinary job starts once every job
 * called before it has. Containers' endpoints in one sandbox are independent of each other, but
 * not of the sandbox being built or removed.
 */
interface Lane {
  /** Settles once every ordinary job called so far has settled (and so every job called before it). */
  ordinary: Promise<void>;
  /** Settles once every job called so far has settled. */
  all: Promise<void>;
  /** Jobs called and not yet settled; the lane is dropped at zero. */
  pending: number;
}

export class KeyedQueue {
  private readonly lanes = new Map<string, Lane>();

  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const lane = this.lane(key);
    const { result, done } = this.track(key, lane, lane.all.then(job));
    lane.ordinary = done;
    lane.all = done;
    return result;
  }

  runShared<T>(key: string, job: () => Promise<T>): Promise<T> {
    const lane = this.lane(key);
    const { result, done } = this.track(key, lane, lane.ordinary.then(job));
    lane.all = Promise.all([lane.all, done]).then(() => undefined);
    return result;
  }

  private lane(key: string): Lane {
    let lane = this.lanes.get(key);
    if (lane === undefined) this.lanes.set(key, (lane = { ordinary: Promise.resolve(), all: Promise.resolve(), pending: 0 }));
    return lane;
  }

  private track<T>(key: string, lane: Lane, result: Promise<T>): { result: Promise<T>; done: Promise<void> } {
    lane.pending++;
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    void done.then(() => {
      if (--lane.pending === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
    });
    return { result, done };
  }
}
