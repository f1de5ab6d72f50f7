import { EventQueue, type Label, type ScheduledEvent } from './event-queue.js';

/**
 * Global virtual time. Nothing happens between events: `step` pops the earliest event, moves `now`
 * to its time and runs it. Time never moves backwards, so an event asked for in the past runs now.
 */
export class Scheduler {
  private readonly queue = new EventQueue();
  private current = 0;

  get now(): number {
    return this.current;
  }

  at(time: number, label: Label, run: () => void): void {
    this.queue.push(Math.max(time, this.current), label, run);
  }

  after(delayMs: number, label: Label, run: () => void): void {
    this.at(this.current + delayMs, label, run);
  }

  /** Runs the next event and returns it, or undefined when nothing is scheduled. */
  step(): ScheduledEvent | undefined {
    const event = this.queue.pop();
    if (event === undefined) return undefined;
    this.current = event.time;
    event.run();
    return event;
  }
}
