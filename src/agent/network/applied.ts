/**
 * What the network agent last applied to the kernel, by key (a network's config, its peers, a
 * container's VIPs, the routing mesh), so that a new NetworkState rewrites only what it changes.
 * Each state arrives when any task on the node's networks starts or stops; re-reading and
 * re-checking every sandbox, peer table and VIP table each time costs dozens of `ip` and `nft`
 * processes. A key is forgotten when applying it failed, so the retry does the work again; a new
 * agent (a restart) remembers nothing and checks everything once.
 */
export class AppliedRecord {
  private readonly values = new Map<string, string>();

  /** Whether `value` differs from what was last recorded under `key` (and so must be applied). */
  differs(key: string, value: unknown): boolean {
    return this.values.get(key) !== JSON.stringify(value);
  }

  record(key: string, value: unknown): void {
    this.values.set(key, JSON.stringify(value));
  }

  forget(key: string): void {
    this.values.delete(key);
  }

  /** Forgets every key `drop` picks: what was applied for something that is gone. */
  forgetWhere(drop: (key: string) => boolean): void {
    for (const key of [...this.values.keys()]) if (drop(key)) this.values.delete(key);
  }

  /** Applies `value` under `key` with `apply` unless it is what was applied last. */
  async apply(key: string, value: unknown, apply: () => Promise<unknown>): Promise<void> {
    if (!this.differs(key, value)) return;
    this.forget(key);
    await apply();
    this.record(key, value);
  }
}
