import { describe, expect, it } from 'vitest';
import { Scheduler } from './scheduler.js';
import { ServerTimeline } from './server-timeline.js';

describe('Scheduler', () => {
  it('runs events by time, then in the order they were scheduled', () => {
    const scheduler = new Scheduler();
    const order: string[] = [];
    scheduler.at(5, 'b', () => order.push('b'));
    scheduler.at(1, 'a', () => order.push('a'));
    scheduler.at(5, 'c', () => order.push('c'));
    scheduler.at(5, 'd', () => scheduler.at(0, 'past', () => order.push('past')));
    while (scheduler.step() !== undefined) {
      /* run everything */
    }
    expect(order).toEqual(['a', 'b', 'c', 'past']);
    expect(scheduler.now).toBe(5);
  });
});

describe('ServerTimeline', () => {
  function runAll(scheduler: Scheduler): void {
    while (scheduler.step() !== undefined) {
      /* run everything */
    }
  }

  it('fires timers after the requested local time, at the machine clock rate', () => {
    const scheduler = new Scheduler();
    const fast = new ServerTimeline(scheduler, 'fast', 1.1, 1000);
    const slow = new ServerTimeline(scheduler, 'slow', 0.9);
    const fired: { who: string; global: number; local: number }[] = [];
    fast.clock(() => true).setTimer(110, () => fired.push({ who: 'fast', global: scheduler.now, local: fast.localNow() }));
    slow.clock(() => true).setTimer(90, () => fired.push({ who: 'slow', global: scheduler.now, local: slow.localNow() }));
    runAll(scheduler);
    expect(fired.map((f) => f.who)).toEqual(['fast', 'slow']);
    expect(fired[0].global).toBeCloseTo(100);
    expect(fired[0].local).toBeCloseTo(1110);
    expect(fired[1].global).toBeCloseTo(100);
    expect(fired[1].local).toBeCloseTo(90);
  });

  it('never fires a cancelled timer or one of a dead incarnation', () => {
    const scheduler = new Scheduler();
    const timeline = new ServerTimeline(scheduler, 's', 1);
    let alive = true;
    const fired: string[] = [];
    timeline.clock(() => true).setTimer(10, () => fired.push('cancelled')).cancel();
    timeline.clock(() => alive).setTimer(10, () => fired.push('dead'));
    timeline.clock(() => true).setTimer(10, () => fired.push('kept'));
    alive = false;
    runAll(scheduler);
    expect(fired).toEqual(['kept']);
  });

  it('holds everything while paused and runs it in order on resume, with the clock still moving', () => {
    const scheduler = new Scheduler();
    const timeline = new ServerTimeline(scheduler, 's', 1);
    const ran: { what: string; at: number }[] = [];
    timeline.clock(() => true).setTimer(10, () => ran.push({ what: 'timer', at: scheduler.now }));
    timeline.runAt(20, 'delivery', () => ran.push({ what: 'delivery', at: scheduler.now }));
    scheduler.at(5, 'pause', () => timeline.pause());
    scheduler.at(100, 'resume', () => timeline.resume());
    runAll(scheduler);
    expect(ran).toEqual([
      { what: 'timer', at: 100 },
      { what: 'delivery', at: 100 },
    ]);
    expect(timeline.localNow()).toBe(100);
  });

  it('defers work behind what is already due now', () => {
    const scheduler = new Scheduler();
    const timeline = new ServerTimeline(scheduler, 's', 1);
    const order: string[] = [];
    scheduler.at(0, 'first', () => {
      timeline.defer('deferred', () => order.push('deferred'));
      order.push('first');
    });
    scheduler.at(0, 'second', () => order.push('second'));
    runAll(scheduler);
    expect(order).toEqual(['first', 'second', 'deferred']);
  });
});
