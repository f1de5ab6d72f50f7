/**
 * Applies values one at a time, the newest winning: a value pushed while another is being applied
 * waits, and replaces any value still waiting, so a burst of NetworkStates costs at most the one
 * being applied and the last one. Each is a whole state, so an intermediate one is never needed.
 */
export class LatestRunner<T> {
  private pending: { value: T } | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly apply: (value: T) => Promise<void>,
    /** A value whose application threw; the runner goes on with the next one. */
    private readonly failed: (err: unknown, value: T) => void,
  ) {}

  push(value: T): void {
    this.pending = { value };
    this.running ??= this.drain();
  }

  /** Resolves once nothing is being applied or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const { value } = this.pending;
      this.pending = undefined;
      try {
        await this.apply(value);
      } catch (err) {
        this.failed(err, value);
      }
    }
    this.running = undefined;
  }
}
