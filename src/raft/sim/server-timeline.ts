import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Label } from './event-queue.js';
import type { Scheduler } from './scheduler.js';

/** Events closer than this to their due local time count as due (guards float rounding). */
const DUE_EPSILON_MS = 1e-6;

/**
 * One simulated machine's view of time. Its clock runs at a constant `rate` of global time (drift),
 * and the machine can be paused: while paused its clock keeps advancing, as a monotonic clock does
 * under a stopped process or a stalled VM, but nothing on it runs: timers, deliveries and deferred
 * work are held and run, in order, when it resumes. The timeline outlives crashes; each incarnation
 * of the server gets its own Clock whose timers die with it.
 */
export class ServerTimeline {
  private readonly originGlobal: number;
  private readonly originLocal: number;
  private paused = false;
  private held: { label: Label; run: () => void }[] = [];

  constructor(
    private readonly scheduler: Scheduler,
    readonly id: string,
    readonly rate: number,
    /** Where this machine's clock reads when the timeline is created (machines disagree on origins). */
    localOrigin = 0,
    /** Told whenever something runs on this machine, so observers know whose state may have changed. */
    private readonly onActivity: () => void = () => undefined,
  ) {
    this.originGlobal = scheduler.now;
    this.originLocal = localOrigin;
  }

  localNow(): number {
    return this.originLocal + (this.scheduler.now - this.originGlobal) * this.rate;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const h of held) this.scheduler.at(this.scheduler.now, h.label, () => this.run(h.label, h.run));
  }

  /** Runs `run` on this machine at global time `globalTime`, or when it resumes if paused then. */
  runAt(globalTime: number, label: Label, run: () => void): void {
    this.scheduler.at(globalTime, label, () => this.run(label, run));
  }

  /** Runs `run` on this machine after everything already due now. */
  defer(label: Label, run: () => void): void {
    this.runAt(this.scheduler.now, label, run);
  }

  /** A Clock for one incarnation of the server: once `alive()` turns false its timers never fire. */
  clock(alive: () => boolean): Clock {
    return {
      now: () => this.localNow(),
      setTimer: (ms, fn) => this.setTimer(ms, fn, alive),
    };
  }

  private setTimer(ms: number, fn: () => void, alive: () => boolean): TimerHandle {
    const due = this.localNow() + Math.max(0, ms);
    let cancelled = false;
    const fire = (): void => {
      if (cancelled || !alive()) return;
      const early = due - this.localNow();
      if (early > DUE_EPSILON_MS) {
        this.runAt(this.scheduler.now + early / this.rate, `${this.id} timer`, fire);
        return;
      }
      cancelled = true;
      fn();
    };
    this.runAt(this.scheduler.now + Math.max(0, ms) / this.rate, `${this.id} timer`, fire);
    return { cancel: () => (cancelled = true) };
  }

  /** Runs `run` now, or holds it until resume if the machine is paused. */
  run(label: Label, run: () => void): void {
    if (this.paused) {
      this.held.push({ label, run });
      return;
    }
    this.onActivity();
    run();
  }
}
