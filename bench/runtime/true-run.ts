/**
 * create-start-exit of `/bin/true`: one prepared busybox bundle, run in the foreground by
 * shoal-runtime and by runc (Debian's), run by run and in alternating order, so that whatever else
 * the machine does falls on both alike. Each invocation is timed from spawn to exit through
 * spawnSync (no event loop in between); starting `/bin/true` itself the same way, on the host, is
 * timed too, since that part of every number is Node's fork and exec, not the runtime's.
 *
 * config.json comes from `shoal-runtime spec`, not `runc spec`: runc's template carries a
 * device-cgroup rule (linux.resources.devices) that shoal-runtime does not implement and so
 * ignores, which would have runc do work shoal skips on the same bundle, and asks for a terminal,
 * which shoal refuses. shoal's template has nothing it ignores, and runc runs it as it is: new pid,
 * ipc, uts, mount and network namespaces, the usual mounts, masked and read-only paths, three
 * capabilities, an rlimit, no_new_privs, a read-only root. Only the args and, per invocation, the
 * cgroups path (a fresh cgroup under the benchmark's parent, so no run can meet another's) change.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { makeBusyboxRootfs } from '../../src/runtime/container/testing/rootfs.js';
import { RUNC, type BenchResources } from './resources.js';
import { round, summarize, type Summary } from './stats.js';

export interface TrueRunResult {
  shoal: Summary;
  runc: Summary;
  /** runc's p50 over shoal's: above 1, shoal is faster. */
  runcOverShoal: number;
  /** spawnSync of the host's /bin/true: the launcher's share of both runtimes' times. */
  launcherTrue: Summary;
}

const RUN_TIMEOUT_MS = 30_000;

interface Runtime {
  name: 'shoal' | 'runc';
  program: string;
  root: string;
}

export async function benchTrueRun(
  resources: BenchResources,
  runs: number,
  warmupRuns: number,
  progress: (line: string) => void,
  stop: AbortSignal,
): Promise<TrueRunResult> {
  const bundle = join(resources.dataDir, 'true-bundle');
  prepareBundle(bundle, resources.runtimePath);
  const template = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { linux: Record<string, unknown> };
  const runtimes: Runtime[] = [
    { name: 'shoal', program: resources.runtimePath, root: resources.shoalRoot },
    { name: 'runc', program: RUNC, root: resources.runcRoot },
  ];
  const once = (runtime: Runtime, id: string): number => {
    // Untimed: the same config but for this container's own cgroup.
    template.linux.cgroupsPath = `${resources.cgroupParent}/${id}`;
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(template));
    const args = ['--root', runtime.root, 'run', '--bundle', bundle, id];
    return timed(runtime.program, args, `${runtime.name} run ${id}`);
  };

  // The first run of each makes the mount points in the rootfs and pulls the binaries into the page cache.
  for (let i = 0; i < warmupRuns; i++) for (const r of runtimes) once(r, `warmup-${i}-${r.name}`);
  const times: Record<Runtime['name'] | 'launcher', number[]> = { shoal: [], runc: [], launcher: [] };
  for (let i = 0; i < runs; i++) {
    // spawnSync holds the event loop: let a signal's handler run between runs, and stop if it asked to.
    await yieldToEvents();
    stop.throwIfAborted();
    const order = i % 2 === 0 ? runtimes : [...runtimes].reverse();
    for (const r of order) times[r.name].push(once(r, `true-${i}-${r.name}`));
    times.launcher.push(timed('/bin/true', [], 'the host /bin/true'));
    if ((i + 1) % 10 === 0) progress(`true: ${i + 1}/${runs} runs`);
  }
  const shoal = summarize(times.shoal);
  const runc = summarize(times.runc);
  return { shoal, runc, runcOverShoal: round(runc.p50Ms / shoal.p50Ms), launcherTrue: summarize(times.launcher) };
}

/** The bundle both runtimes run: Debian's static busybox as the rootfs, shoal's template config. */
function prepareBundle(bundle: string, runtimePath: string): void {
  mkdirSync(bundle);
  makeBusyboxRootfs(join(bundle, 'rootfs'));
  const spec = spawnSync(runtimePath, ['spec', '--bundle', bundle], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (spec.status !== 0) throw new Error(`shoal-runtime spec: ${spec.stderr.toString().trim()}`);
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { args: string[]; terminal: boolean } };
  config.process.args = ['/bin/true'];
  config.process.terminal = false;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
}

/** Wall time of one program run to its exit, which must be 0. */
function timed(program: string, args: string[], what: string): number {
  const start = performance.now();
  const r = spawnSync(program, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' });
  const ms = performance.now() - start;
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`);
  return ms;
}
