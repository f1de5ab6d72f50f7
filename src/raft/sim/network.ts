import type { Random } from '../../common/random.js';
import type { Scheduler } from './scheduler.js';

/** How badly the simulated network behaves. Rates are probabilities per message. */
export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** Chance a message ignores per-link FIFO order and may overtake earlier ones. */
  reorderRate: number;
  /** Typical one-way latency is uniform in [minDelayMs, maxDelayMs]... */
  minDelayMs: number;
  maxDelayMs: number;
  /** ...and with this chance a message is slow: latency grows by an exponential tail of this mean. */
  tailRate: number;
  tailMeanMs: number;
}

export const calmNetwork: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  minDelayMs: 1,
  maxDelayMs: 5,
  tailRate: 0,
  tailMeanMs: 0,
};

/**
 * A simulated network between named endpoints. Links are directed and can be cut one way or both;
 * a message is lost if its link is cut when it is sent or when it would arrive. Otherwise messages
 * on a link arrive in order, except those picked for reordering, dropping or duplication.
 * `deliver` is called at arrival time; the receiver decides whether anyone is there to hear it.
 */
export class SimNetwork<M> {
  private readonly cut = new Set<string>();
  /** Latest scheduled arrival per link, to keep FIFO order. */
  private readonly lastArrival = new Map<string, number>();
  faults: NetworkFaults;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: Random,
    faults: NetworkFaults,
    private readonly deliver: (from: string, to: string, msg: M) => void,
  ) {
    this.faults = faults;
  }

  send(from: string, to: string, msg: M, describe: () => string = () => 'message'): void {
    if (this.isCut(from, to)) return;
    const f = this.faults;
    if (this.random.next() < f.dropRate) return;
    const copies = this.random.next() < f.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const arrival = this.arrivalTime(from, to);
      this.scheduler.at(arrival, () => `deliver ${from}->${to} ${describe()}`, () => {
        if (!this.isCut(from, to)) this.deliver(from, to, msg);
      });
    }
  }

  isCut(from: string, to: string): boolean {
    return this.cut.has(linkKey(from, to));
  }

  cutOneWay(from: string, to: string): void {
    this.cut.add(linkKey(from, to));
  }

  cutBothWays(a: string, b: string): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  /** Cuts every link between the two groups, both ways. */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    for (const a of groupA) for (const b of groupB) this.cutBothWays(a, b);
  }

  /** Cuts `id` off from everyone in `others`. */
  isolate(id: string, others: readonly string[]): void {
    this.partition([id], others.filter((o) => o !== id));
  }

  heal(): void {
    this.cut.clear();
  }

  private arrivalTime(from: string, to: string): number {
    const f = this.faults;
    let delay = f.minDelayMs + this.random.next() * (f.maxDelayMs - f.minDelayMs);
    if (this.random.next() < f.tailRate) delay += -Math.log(1 - this.random.next()) * f.tailMeanMs;
    const arrival = this.scheduler.now + delay;
    if (this.random.next() < f.reorderRate) return arrival;
    const key = linkKey(from, to);
    const inOrder = Math.max(arrival, this.lastArrival.get(key) ?? 0);
    this.lastArrival.set(key, inOrder);
    return inOrder;
  }
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}
