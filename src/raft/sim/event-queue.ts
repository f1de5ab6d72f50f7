/**
 * The simulator's agenda: callbacks ordered by (virtual time, insertion sequence). The sequence
 * number makes ties deterministic, which is what lets one seed replay a whole run exactly.
 */
export type Label = string | (() => string);

export function labelText(label: Label): string {
  return typeof label === 'string' ? label : label();
}

export interface ScheduledEvent {
  time: number;
  seq: number;
  /** Shown in the --verbose trace; a function when building the text would cost on every event. */
  label: Label;
  run: () => void;
}

export class EventQueue {
  private readonly heap: ScheduledEvent[] = [];
  private nextSeq = 0;

  push(time: number, label: Label, run: () => void): void {
    const event = { time, seq: this.nextSeq++, label, run };
    this.heap.push(event);
    this.siftUp(this.heap.length - 1);
  }

  pop(): ScheduledEvent | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top !== undefined && last !== undefined && this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private before(a: ScheduledEvent, b: ScheduledEvent): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.before(h[l], h[m])) m = l;
      if (r < h.length && this.before(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
