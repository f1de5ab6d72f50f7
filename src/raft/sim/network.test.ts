import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.js';
import { calmNetwork, SimNetwork, type NetworkFaults } from './network.js';
import { Scheduler } from './scheduler.js';

function setup(faults: Partial<NetworkFaults> = {}) {
  const scheduler = new Scheduler();
  const delivered: { from: string; to: string; msg: number; at: number }[] = [];
  const network = new SimNetwork<number>(scheduler, seededRandom(7), { ...calmNetwork, ...faults }, (from, to, msg) =>
    delivered.push({ from, to, msg, at: scheduler.now }),
  );
  const drain = (): void => {
    while (scheduler.step() !== undefined) {
      /* run everything */
    }
  };
  return { scheduler, network, delivered, drain };
}

describe('SimNetwork', () => {
  it('delivers in order per link within the delay bounds', () => {
    const { network, delivered, drain } = setup({ minDelayMs: 2, maxDelayMs: 9 });
    for (let i = 0; i < 100; i++) network.send('a', 'b', i);
    drain();
    expect(delivered.map((d) => d.msg)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    for (const d of delivered) expect(d.at).toBeGreaterThanOrEqual(2);
  });

  it('may reorder messages picked for reordering', () => {
    const { network, delivered, drain } = setup({ minDelayMs: 1, maxDelayMs: 50, reorderRate: 1 });
    for (let i = 0; i < 50; i++) network.send('a', 'b', i);
    drain();
    expect(delivered).toHaveLength(50);
    expect(delivered.map((d) => d.msg)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('drops messages at the drop rate', () => {
    const { network, delivered, drain } = setup({ dropRate: 0.5 });
    for (let i = 0; i < 1000; i++) network.send('a', 'b', i);
    drain();
    expect(delivered.length).toBeGreaterThan(350);
    expect(delivered.length).toBeLessThan(650);
  });

  it('duplicates messages at the duplication rate', () => {
    const { network, delivered, drain } = setup({ duplicateRate: 1 });
    network.send('a', 'b', 1);
    drain();
    expect(delivered.map((d) => d.msg)).toEqual([1, 1]);
  });

  it('adds a long tail of delay to some messages', () => {
    const { network, delivered, drain } = setup({ minDelayMs: 1, maxDelayMs: 2, tailRate: 1, tailMeanMs: 500, reorderRate: 1 });
    for (let i = 0; i < 200; i++) network.send('a', 'b', i);
    drain();
    expect(Math.max(...delivered.map((d) => d.at))).toBeGreaterThan(500);
  });

  it('loses messages across a partition, both ways, until healed', () => {
    const { network, delivered, drain } = setup();
    network.partition(['a'], ['b', 'c']);
    network.send('a', 'b', 1);
    network.send('c', 'a', 2);
    network.send('b', 'c', 3);
    drain();
    expect(delivered.map((d) => d.msg)).toEqual([3]);
    network.heal();
    network.send('a', 'b', 4);
    drain();
    expect(delivered.map((d) => d.msg)).toEqual([3, 4]);
  });

  it('cuts a link one way only', () => {
    const { network, delivered, drain } = setup();
    network.cutOneWay('a', 'b');
    network.send('a', 'b', 1);
    network.send('b', 'a', 2);
    drain();
    expect(delivered.map((d) => d.msg)).toEqual([2]);
  });

  it('loses a message in flight when its link is cut before it arrives', () => {
    const { network, delivered, drain } = setup({ minDelayMs: 10, maxDelayMs: 10 });
    network.send('a', 'b', 1);
    network.isolate('b', ['a', 'b', 'c']);
    drain();
    expect(delivered).toEqual([]);
  });

  it('behaves identically for the same seed', () => {
    const run = (): number[] => {
      const { network, delivered, drain } = setup({ dropRate: 0.2, reorderRate: 0.3, maxDelayMs: 30, duplicateRate: 0.1 });
      for (let i = 0; i < 100; i++) network.send('a', 'b', i);
      drain();
      return delivered.map((d) => d.msg);
    };
    expect(run()).toEqual(run());
  });
});
