import { describe, expect, it } from 'vitest';
import { runSeed } from './simulation.js';

describe('runSeed', () => {
  it('passes a handful of seeds of the correct implementation end to end', async () => {
    for (const seed of [1, 2, 3]) {
      const result = await runSeed({ seed });
      expect(result.failure).toBeUndefined();
      expect(result.passed).toBe(true);
      expect(result.operations).toBeGreaterThan(0);
    }
  });

  it('replays a seed exactly', async () => {
    const a = await runSeed({ seed: 4 });
    const b = await runSeed({ seed: 4 });
    expect(b).toEqual(a);
  });

  it('catches a planted bug and names the checker', async () => {
    const result = await runSeed({ seed: 1, bug: 'voteNotFsynced', scenario: 'crash-after-promise' });
    expect(result.passed).toBe(false);
    expect(result.failure?.checker).toMatch(/durability|election safety/);
  });
});
