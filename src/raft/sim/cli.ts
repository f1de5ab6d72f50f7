/**
 * `npm run sim -- --seeds N --from S [--bug NAME] [--scenario KIND] [--verbose] [--jobs J]
 * [--stop-at-first-failure]`: runs seeds
 * S..S+N-1 of the deterministic simulation and ends with "P passed, F failed", then the command that
 * replays each failure. Exits 1 if any seed failed.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { SCENARIO_KINDS, type ScenarioKind } from './scenario.js';
import { runSeedsInParallel } from './seed-pool.js';
import { BUG_NAMES, runSeed, type BugName, type SeedResult } from './simulation.js';

function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '1' },
      from: { type: 'string', default: '1' },
      bug: { type: 'string' },
      scenario: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      'stop-at-first-failure': { type: 'boolean', default: false },
      jobs: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    },
  });
  const seeds = Number(values.seeds);
  const from = Number(values.from);
  if (!Number.isSafeInteger(seeds) || seeds < 1 || !Number.isSafeInteger(from) || from < 0) {
    console.error('--seeds must be a positive integer and --from a non-negative integer');
    return Promise.resolve(2);
  }
  const bug = values.bug;
  if (bug !== undefined && !(BUG_NAMES as readonly string[]).includes(bug)) {
    console.error(`unknown --bug ${bug}; one of: ${BUG_NAMES.join(', ')}`);
    return Promise.resolve(2);
  }
  const scenario = values.scenario;
  if (scenario !== undefined && !(SCENARIO_KINDS as readonly string[]).includes(scenario)) {
    console.error(`unknown --scenario ${scenario}; one of: ${[...new Set(SCENARIO_KINDS)].join(', ')}`);
    return Promise.resolve(2);
  }
  return runSeeds({
    from,
    count: seeds,
    bug: bug as BugName | undefined,
    scenario: scenario as ScenarioKind | undefined,
    verbose: values.verbose,
    stopAtFirst: values['stop-at-first-failure'],
    // The trace is printed as events happen, so a verbose run stays on this thread.
    jobs: values.verbose ? 1 : Math.max(1, Number(values.jobs) || 1),
  });
}

interface RunPlan {
  from: number;
  count: number;
  bug: BugName | undefined;
  scenario: ScenarioKind | undefined;
  verbose: boolean;
  stopAtFirst: boolean;
  jobs: number;
}

async function runSeeds(plan: RunPlan): Promise<number> {
  const { from, count, bug, scenario, verbose, stopAtFirst, jobs } = plan;
  const failures: number[] = [];
  let passed = 0;
  const started = Date.now();
  const report = (result: SeedResult): boolean => {
    if (result.passed) {
      passed++;
    } else {
      const f = result.failure;
      failures.push(result.seed);
      console.log(`seed ${result.seed} FAILED (${result.scenario}) at event ${f?.event}: [${f?.checker}] ${f?.description}`);
    }
    if (verbose) {
      console.log(`seed ${result.seed}: ${result.events} events, ${result.operations} client operations, ${(result.virtualMs / 1000).toFixed(1)} s virtual`);
    }
    return result.passed || !stopAtFirst;
  };
  const seeds = Array.from({ length: count }, (_, i) => from + i);
  if (jobs > 1) {
    await runSeedsInParallel(seeds, jobs, { bug, scenario }, report);
  } else {
    for (const seed of seeds) {
      const result = await runSeed({ seed, bug, scenario, trace: verbose ? (line) => console.log(line) : undefined });
      if (!report(result)) break;
    }
  }
  console.error(`ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failures.length} failed`);
  for (const seed of failures) {
    const flags = `${bug === undefined ? '' : ` --bug ${bug}`}${scenario === undefined ? '' : ` --scenario ${scenario}`}`;
    console.log(`replay: npm run sim -- --seeds 1 --from ${seed}${flags} --verbose`);
  }
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = await main();
