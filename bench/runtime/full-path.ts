/**
 * The full path a worker takes from an image on the node to its process running: per container,
 * fresh overlay upper and work directories (and the empty directory the root is mounted on), a
 * fresh network namespace with only loopback (`ip netns add`, then loopback up, as Docker's "none"
 * network has it), config.json from the Node builder with the overlay annotations, the namespace,
 * a log file and Docker's defaults (capabilities, seccomp allow-list, masked paths) written as
 * RuntimeContainer writes it, then `shoal-runtime run -d` until it returns, when the program is
 * running. Each phase runs after the one before and is timed on its own, with async calls as the
 * worker makes them. The container is then deleted and its namespace and directories removed,
 * untimed.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../../src/common/atomic-file.js';
import type { ContainerSpec } from '../../src/runtime/container/config.js';
import { buildOciConfig, renderOciConfig } from '../../src/runtime/container/oci/build-config.js';
import type { StoredImage } from '../../src/runtime/image/image-store.js';
import type { BenchResources } from './resources.js';
import { p50, summarize } from './stats.js';

const run = promisify(execFile);

/** What the container runs: long enough to outlive the run, stopped by the cleanup. */
export const FULL_PATH_COMMAND = ['sleep', '3600'];

export interface FullPathResult {
  /** p50 of each phase, in order. */
  phasesP50Ms: { prepareDirs: number; netns: number; config: number; runtime: number };
  totalP50Ms: number;
  totalP99Ms: number;
  totalMeanMs: number;
}

type Phase = keyof FullPathResult['phasesP50Ms'];

export async function benchFullPath(
  resources: BenchResources,
  image: StoredImage,
  runs: number,
  progress: (line: string) => void,
  stop: AbortSignal,
): Promise<FullPathResult> {
  const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const phases: Record<Phase, number[]> = { prepareDirs: [], netns: [], config: [], runtime: [] };
  const totals: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Between runs, when the last container is gone: stopping in the middle would race the runtime.
    stop.throwIfAborted();
    const id = `full-${i}`;
    const dir = join(resources.dataDir, 'containers', id);
    const netns = `shoal-bench-${process.pid}-${i}`;
    // The store lists layers bottom first; overlayfs wants the top first.
    const overlay = { lower: [...image.layerDirs].reverse(), upper: join(dir, 'upper'), work: join(dir, 'work') };
    const spec: ContainerSpec = {
      rootfs: join(dir, 'rootfs'),
      overlay,
      args: FULL_PATH_COMMAND,
      env: image.config.env,
      cwd: image.config.workingDir || '/',
      network: { join: `/run/netns/${netns}` },
      log: { path: join(dir, 'container.log') },
      cgroupsPath: `${resources.cgroupParent}/${id}`,
    };

    const marks = [performance.now()];
    for (const d of [spec.rootfs, overlay.upper, overlay.work]) await mkdir(d, { recursive: true, mode: 0o700 });
    marks.push(performance.now());
    resources.trackNetns(netns);
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    marks.push(performance.now());
    await writeFileAtomic(join(dir, 'config.json'), renderOciConfig(buildOciConfig(spec, { lastCap })));
    marks.push(performance.now());
    await runtimeCommand(resources, ['run', '--detach', '--bundle', dir, id]);
    marks.push(performance.now());

    (['prepareDirs', 'netns', 'config', 'runtime'] as const).forEach((phase, k) => phases[phase].push(marks[k + 1]! - marks[k]!));
    totals.push(marks.at(-1)! - marks[0]!);
    await checkRunning(resources, id);
    await runtimeCommand(resources, ['delete', '--force', id]);
    await run('ip', ['netns', 'del', netns]);
    resources.forgetNetns(netns);
    await rm(dir, { recursive: true, force: true });
    if ((i + 1) % 5 === 0) progress(`full path: ${i + 1}/${runs} runs`);
  }
  const total = summarize(totals);
  return {
    phasesP50Ms: { prepareDirs: p50(phases.prepareDirs), netns: p50(phases.netns), config: p50(phases.config), runtime: p50(phases.runtime) },
    totalP50Ms: total.p50Ms,
    totalP99Ms: total.p99Ms,
    totalMeanMs: total.meanMs,
  };
}

/**
 * What `run -d` returned on is what was asked for: the init recorded in state.json is alive and,
 * within a moment (start returns once the init is released, not once it has exec'd), is `sleep`.
 */
async function checkRunning(resources: BenchResources, id: string): Promise<void> {
  const state = JSON.parse(await readFile(join(resources.shoalRoot, id, 'state.json'), 'utf8')) as { pid: number };
  for (let waited = 0; ; waited += 10) {
    let comm: string;
    try {
      comm = (await readFile(`/proc/${state.pid}/comm`, 'utf8')).trim();
    } catch {
      throw new Error(`${id}: its process ${state.pid} is gone after run -d returned`);
    }
    if (comm === FULL_PATH_COMMAND[0]) return;
    if (waited >= 2000) throw new Error(`${id}: its process ${state.pid} is still ${JSON.stringify(comm)}, not ${FULL_PATH_COMMAND[0]}`);
    await delay(10);
  }
}

/** One shoal-runtime command, spawned as RuntimeContainer does; rejects with its stderr if it fails. */
function runtimeCommand(resources: BenchResources, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(resources.runtimePath, ['--root', resources.shoalRoot, ...args], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`shoal-runtime ${args[0]} ${args.at(-1)}: ${stderr.trim() || `exited with ${code ?? signal}`}`));
    });
  });
}
