/**
 * `npm run bench:runtime -- [--json] [--runs N] [--full-path-runs N]` (as root): how fast
 * shoal-runtime starts containers, against runc (issue 5's goal: faster than runc's ~25 ms).
 *
 * 1. true-run.ts: create-start-exit of `/bin/true` from one prepared busybox bundle, --runs times
 *    (50) through `shoal-runtime run` and `runc run` in the foreground, interleaved; p50, p99 and
 *    mean of each and runc's p50 over shoal's.
 * 2. full-path.ts: from the base image in an ImageStore (pulled once, untimed, from a local
 *    registry) to the process running on a fresh overlay root in a fresh network namespace,
 *    --full-path-runs times (20): each phase's p50 and the total's p50, p99 and mean.
 *
 * Prints one JSON object with --json, else progress and a short summary. Containers, network
 * namespaces, cgroups, the registry and temporary directories are removed at the end, on failure
 * and on SIGINT/SIGTERM too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultRuntimePath } from '../../src/runtime/container/runtime-container.js';
import { ImageStore } from '../../src/runtime/image/image-store.js';
import { benchFullPath, FULL_PATH_COMMAND, type FullPathResult } from './full-path.js';
import { LocalRegistry } from '../../src/runtime/image/testing/local-registry.js';
import { BenchResources, RUNC, type CleanupReport } from './resources.js';
import { round } from './stats.js';
import { benchTrueRun, type TrueRunResult } from './true-run.js';
import { positiveInteger } from '../options.js';

/** Untimed runs of each runtime before the timed ones. */
const WARMUP_RUNS = 1;
const IMAGE_TAG = 'bench';

interface Options {
  json: boolean;
  runs: number;
  fullPathRuns: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      runs: { type: 'string', default: '50' },
      'full-path-runs': { type: 'string', default: '20' },
    },
  });
  return { json: values.json, runs: positiveInteger('runs', values.runs), fullPathRuns: positiveInteger('full-path-runs', values['full-path-runs']) };
}

type Outcome<T> = T | { error: string };

async function attempt<T>(fn: () => Promise<T> | T): Promise<Outcome<T>> {
  try {
    return await fn();
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (process.getuid?.() !== 0) throw new Error('needs root: namespaces, mounts and cgroups');
  const runtimePath = defaultRuntimePath();
  for (const [path, how] of [[runtimePath, 'bash src/runtime/shim/build.sh'], [RUNC, 'apt-get install runc']]) {
    if (!existsSync(path)) throw new Error(`${path} not found: ${how}`);
  }
  const progress = (line: string): void => {
    if (!opts.json) console.log(line);
  };
  // The machine may be shared: the load average around the run says how far the numbers can be trusted.
  const loadBefore = round(loadavg()[0]!);
  const resources = await BenchResources.create(runtimePath);
  let cleaned: CleanupReport | undefined;
  const cleanUp = (): CleanupReport => (cleaned ??= resources.cleanup());
  // The first signal stops the benchmark between two runs, so no runtime command is cut short while
  // its container is half made; a second one cleans up at once.
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!stop.signal.aborted) return stop.abort(new Error(`stopped by ${signal}`));
      reportCleanup(cleanUp());
      process.exit(130);
    });
  }

  // attempt() catches every failure, so the cleanup below always runs.
  let imageRef = '';
  const trueRun = await attempt(() => benchTrueRun(resources, opts.runs, WARMUP_RUNS, progress, stop.signal));
  const fullPath = await attempt(async () => {
    stop.signal.throwIfAborted();
    resources.registry = await LocalRegistry.start();
    await resources.registry.pushBaseImage(IMAGE_TAG);
    imageRef = `${resources.registry.host}/busybox:${IMAGE_TAG}`;
    const image = await new ImageStore(join(resources.dataDir, 'node-state')).pull(imageRef);
    progress(`full path: ${imageRef} pulled`);
    return benchFullPath(resources, image, opts.fullPathRuns, progress, stop.signal);
  });
  const report = cleanUp();
  if (stop.signal.aborted) {
    reportCleanup(report);
    console.error(`bench:runtime: ${(stop.signal.reason as Error).message}`);
    return 130;
  }
  const results = { trueRun, fullPath };
  const settings = {
    runs: opts.runs,
    fullPathRuns: opts.fullPathRuns,
    warmupRuns: WARMUP_RUNS,
    shoalRuntime: runtimePath,
    runc: `${RUNC} (${execFileSync(RUNC, ['--version'], { encoding: 'utf8' }).split('\n')[0]})`,
    trueBundle: 'busybox-static rootfs, `shoal-runtime spec` config with args ["/bin/true"], terminal false',
    fullPathImage: imageRef,
    fullPathCommand: FULL_PATH_COMMAND,
    stateRoots: '/run/shoal-bench-runtime-*/{shoal,runc}',
    cgroupParent: resources.cgroupParent,
  };
  const failed = Object.values(results).some((r) => 'error' in r) || report.errors.length > 0;
  if (opts.json) {
    console.log(
      JSON.stringify({
        benchmark: 'runtime',
        host: { cpus: cpus().length, node: process.version, kernel: release(), loadAverage1m: { before: loadBefore, after: round(loadavg()[0]!) } },
        settings,
        results,
        cleanup: report,
      }),
    );
  } else {
    console.log(summary(trueRun, fullPath, report));
  }
  return failed ? 1 : 0;
}

function reportCleanup(report: CleanupReport): void {
  if (report.errors.length > 0) console.error(`bench:runtime: cleanup: ${report.errors.join('; ')}`);
}

function summary(trueRun: Outcome<TrueRunResult>, fullPath: Outcome<FullPathResult>, report: CleanupReport): string {
  const lines: string[] = [];
  if ('error' in trueRun) lines.push(`true: FAILED: ${trueRun.error}`);
  else {
    const row = (name: string, s: { p50Ms: number; p99Ms: number; meanMs: number }): string =>
      `  ${name.padEnd(14)} p50 ${s.p50Ms} ms  p99 ${s.p99Ms} ms  mean ${s.meanMs} ms`;
    lines.push('create-start-exit of /bin/true:', row('shoal-runtime', trueRun.shoal), row('runc', trueRun.runc), row('(host true)', trueRun.launcherTrue));
    lines.push(`  runc / shoal (p50): ${trueRun.runcOverShoal}`);
  }
  if ('error' in fullPath) lines.push(`full path: FAILED: ${fullPath.error}`);
  else {
    const p = fullPath.phasesP50Ms;
    lines.push(
      `image present to running: p50 ${fullPath.totalP50Ms} ms  p99 ${fullPath.totalP99Ms} ms  mean ${fullPath.totalMeanMs} ms`,
      `  phases (p50): dirs ${p.prepareDirs} ms, netns ${p.netns} ms, config ${p.config} ms, runtime ${p.runtime} ms`,
    );
  }
  const left = report.leftoverContainers + report.leftoverNetns + report.leftoverCgroups;
  if (left > 0) lines.push(`cleanup removed leftovers: ${JSON.stringify(report)}`);
  if (report.errors.length > 0) lines.push(`cleanup errors: ${report.errors.join('; ')}`);
  return lines.join('\n');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:runtime: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
