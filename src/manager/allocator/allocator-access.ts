/**
 * How the control API reaches the leader's allocator. The allocator loop publishes its state when
 * it starts (once its rebuild from the store is done) and withdraws it when leadership ends; the
 * control API, which lives as long as the manager, reads whatever is current at the moment it
 * allocates. Reading it inside the very transaction that writes the result (store.update runs
 * synchronously) keeps an allocation from landing in a state a newer term has already replaced.
 */
import type { AllocatorState } from './allocator-state.js';

export class AllocatorAccess {
  private state: AllocatorState | undefined;
  private waiters: (() => void)[] = [];

  /** The allocator of the current term, if its loop runs on this manager. */
  current(): AllocatorState | undefined {
    return this.state;
  }

  publish(state: AllocatorState): void {
    this.state = state;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  withdraw(state: AllocatorState): void {
    if (this.state === state) this.state = undefined;
  }

  /**
   * Resolves with whether an allocator is published, waiting up to `timeoutMs` for one: a manager
   * that just won an election answers calls before its leader loops have started.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.state !== undefined) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.push(done);
    });
    return this.state !== undefined;
  }
}
