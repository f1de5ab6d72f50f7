import { describe, expect, it } from 'vitest';
import { Inflights, Progress } from './progress.js';

describe('Inflights', () => {
  it('fills up, frees by acknowledgement and can let one out', () => {
    const w = new Inflights(3);
    [5, 7, 9].forEach((i) => w.add(i));
    expect(w.full()).toBe(true);
    w.freeTo(6);
    expect(w.count).toBe(2);
    w.freeFirstOne();
    expect(w.count).toBe(1);
    w.freeTo(100);
    expect(w.count).toBe(0);
  });
});

describe('Progress', () => {
  it('probe sends one message at a time and ignores stale rejections', () => {
    const pr = new Progress(10, 4);
    expect(pr.isPaused()).toBe(false);
    pr.sent(12);
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(10);
    expect(pr.maybeDecrTo(5, 3)).toBe(false); // not the probe we sent
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect([pr.next, pr.isPaused()]).toEqual([4, false]);
  });

  it('never backs off below match + 1', () => {
    const pr = new Progress(10, 4);
    pr.maybeUpdate(6);
    pr.next = 10;
    expect(pr.maybeDecrTo(9, 0)).toBe(true);
    expect(pr.next).toBe(7);
  });

  it('replicate pipelines optimistically and falls back to match + 1 on a fresh rejection', () => {
    const pr = new Progress(5, 2);
    pr.maybeUpdate(4);
    pr.becomeReplicate();
    pr.sent(7);
    pr.sent(9);
    expect([pr.next, pr.isPaused()]).toEqual([10, true]);
    expect(pr.maybeDecrTo(3, 0)).toBe(false);
    expect(pr.maybeDecrTo(7, 0)).toBe(true);
    expect(pr.next).toBe(5);
  });

  it('snapshot state pauses until it is left', () => {
    const pr = new Progress(5, 2);
    pr.becomeSnapshot(40);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(40);
    pr.becomeProbe();
    expect([pr.state, pr.next, pr.isPaused()]).toEqual(['probe', 41, false]);
  });
});
