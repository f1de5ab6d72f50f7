import { Worker } from 'node:worker_threads';
import type { SeedWorkerData } from './seed-worker.js';
import type { SeedResult } from './simulation.js';

/**
 * Runs seeds on `jobs` worker threads and hands results back in seed order, so output reads the
 * same however many threads ran it. `shouldContinue` is asked after each result, in seed order.
 */
export async function runSeedsInParallel(
  seeds: number[],
  jobs: number,
  data: SeedWorkerData,
  onResult: (result: SeedResult) => boolean,
): Promise<void> {
  const workers = Array.from({ length: Math.min(jobs, seeds.length) }, () => new Worker(new URL('./seed-worker.js', import.meta.url), { workerData: data }));
  const done = new Map<number, SeedResult>();
  let nextToDispatch = 0;
  let nextToReport = 0;
  let stopped = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const dispatch = (worker: Worker): void => {
        if (stopped || nextToDispatch >= seeds.length) return;
        worker.postMessage(seeds[nextToDispatch++]);
      };
      for (const worker of workers) {
        worker.on('error', reject);
        worker.on('message', (result: SeedResult) => {
          done.set(result.seed, result);
          while (!stopped && nextToReport < seeds.length && done.has(seeds[nextToReport])) {
            const next = done.get(seeds[nextToReport++]);
            if (next !== undefined && !onResult(next)) stopped = true;
          }
          if (stopped || nextToReport >= seeds.length) resolve();
          else dispatch(worker);
        });
        dispatch(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
