/**
 * Worker-thread entry for running seeds in parallel: receives seed numbers, answers with results.
 * Each thread has its own event loop, so runs stay exactly as deterministic as on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ScenarioKind } from './scenario.js';
import { runSeed, type BugName } from './simulation.js';

export interface SeedWorkerData {
  bug: BugName | undefined;
  scenario: ScenarioKind | undefined;
}

const port = parentPort;
if (port !== null) {
  const { bug, scenario } = workerData as SeedWorkerData;
  port.on('message', (seed: number) => {
    void runSeed({ seed, bug, scenario }).then((result) => port.postMessage(result));
  });
}
