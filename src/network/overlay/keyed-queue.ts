/**
 * Runs async jobs one at a time per key, in call order, and jobs of different keys concurrently.
 * Each network's sandbox is changed by several steps (read, then change what differs); two tasks
 * joining the same network at once must not both find it missing and both create it.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(job);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
