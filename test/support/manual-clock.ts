/** Test fake: a Clock that moves only when told, firing due timers in order. */
import type { Clock, TimerHandle } from '../../src/common/clock.js';

export class ManualClock implements Clock {
  private time = 0;
  private timers: { at: number; fn: () => void; cancelled: boolean }[] = [];

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.time + ms, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const due = this.timers.filter((t) => t.at <= until).sort((x, y) => x.at - y.at)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.time = due.at;
      due.fn();
    }
    this.time = until;
  }
}
