/**
 * Randomness is injected wherever a test or the simulator must replay it. `seededRandom` is a small,
 * fast, well-mixed generator (mulberry32 over a splitmix32-scrambled seed) so one seed fixes a run.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number;
}

export function seededRandom(seed: number): Random {
  let state = scramble(seed >>> 0);
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

function scramble(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export const systemRandom: Random = {
  next: () => Math.random(),
  int: (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1)),
};
