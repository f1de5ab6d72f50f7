/**
 * `npm run bench:raft -- [--json] [--target raft-kv|etcd|both]`: starts a three-member cluster on
 * 127.0.0.1 (raft-kv servers, or etcd from the Debian package, started the same way), measures
 * committed writes/s and latency at several client counts, and leader failover time (median of
 * several kill -9 rounds, the killed member restarted between rounds). Prints one JSON object with
 * --json, else a short summary. Every process and temp directory is removed, even on failure.
 *
 * Other flags: --duration SEC per level (5), --levels 1,16,256, --failover-rounds N (5),
 * --value-bytes N (1024), --key-space N (10000), --channels N (8).
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureFailover } from './failover.js';
import { LocalCluster, type Flavor } from './local-cluster.js';
import { round, runWriteLoad, type WriteLoadResult } from './write-load.js';

interface Settings {
  durationSec: number;
  levels: number[];
  failoverRounds: number;
  valueBytes: number;
  keySpace: number;
  channels: number;
}

interface LevelResult extends WriteLoadResult {
  /** WAL fsyncs per committed write: on the leader, and summed over the three members. */
  fsyncsPerWrite: { leader: number; cluster: number } | null;
  /** Server CPU time per committed write (ms): the leader's, and the three members' together. */
  cpuMsPerWrite: { leader: number; cluster: number } | null;
  /** The load generator's own CPU time per committed write (ms): it shares the machine's cores. */
  clientCpuMsPerWrite: number;
}

interface TargetResult {
  writes: LevelResult[];
  failover: { medianMs: number; roundsMs: number[] };
}

const REQUEST_TIMEOUT_MS = 10_000;

async function benchTarget(flavor: Flavor, settings: Settings, progress: (line: string) => void): Promise<TargetResult> {
  const cluster = await LocalCluster.create({
    flavor,
    serverScript: fileURLToPath(new URL('./main.js', import.meta.url)),
    env: { SHOAL_LOG_LEVEL: 'warn' },
  });
  try {
    cluster.startAll();
    await cluster.waitForSettled();

    const writes: LevelResult[] = [];
    for (const concurrency of settings.levels) {
      const leader = await cluster.waitForSettled();
      const before = await fsyncCounts(cluster);
      const cpuBefore = cpuTimes(cluster);
      const clientCpuBefore = process.cpuUsage();
      const load = await runWriteLoad({
        endpoint: leader.clientAddress,
        concurrency,
        durationMs: settings.durationSec * 1000,
        valueBytes: settings.valueBytes,
        keySpace: settings.keySpace,
        channels: settings.channels,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
      });
      const cpuAfter = cpuTimes(cluster);
      const clientCpu = process.cpuUsage(clientCpuBefore);
      const after = await fsyncCounts(cluster);
      const perWrite = (b: Record<string, number> | null, a: Record<string, number> | null, digits: number) =>
        b && a && load.writes > 0
          ? {
              leader: round((a[leader.id]! - b[leader.id]!) / load.writes, digits),
              cluster: round((sum(a) - sum(b)) / load.writes, digits),
            }
          : null;
      writes.push({
        ...load,
        fsyncsPerWrite: perWrite(before, after, 3),
        cpuMsPerWrite: perWrite(cpuBefore, cpuAfter, 3),
        clientCpuMsPerWrite: load.writes > 0 ? round((clientCpu.user + clientCpu.system) / 1000 / load.writes, 3) : 0,
      });
      progress(`${flavor}: ${concurrency} clients: ${load.writesPerSec} writes/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms`);
    }

    const roundsMs: number[] = [];
    for (let r = 0; r < settings.failoverRounds; r++) {
      const { ms, killed } = await measureFailover(cluster, { probeIntervalMs: 5, probeTimeoutMs: 3000, giveUpMs: 30_000 });
      roundsMs.push(round(ms, 1));
      progress(`${flavor}: failover round ${r + 1}: ${round(ms, 1)} ms (killed ${killed})`);
      cluster.startMember(killed);
      await cluster.waitForSettled();
    }
    return { writes, failover: { medianMs: median(roundsMs), roundsMs } };
  } catch (err) {
    throw new Error(`${flavor}: ${err instanceof Error ? err.message : String(err)}\n${cluster.logTails()}`);
  } finally {
    await cluster.destroy();
  }
}

/** Each member's fsync counter, or null if a metrics page cannot be read. */
async function fsyncCounts(cluster: LocalCluster): Promise<Record<string, number> | null> {
  try {
    const entries = await Promise.all(cluster.members.map(async (m) => [m.id, await cluster.fsyncs(m.id)] as const));
    return Object.fromEntries(entries);
  } catch {
    return null;
  }
}

/** Each member's CPU time so far, or null if one cannot be read. */
function cpuTimes(cluster: LocalCluster): Record<string, number> | null {
  const out: Record<string, number> = {};
  for (const m of cluster.members) {
    const ms = cluster.cpuMs(m.id);
    if (ms === undefined) return null;
    out[m.id] = ms;
  }
  return out;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : round((s[mid - 1]! + s[mid]!) / 2, 1);
}

function parseSettings(): { json: boolean; targets: Flavor[]; settings: Settings } {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      target: { type: 'string', default: 'raft-kv' },
      duration: { type: 'string', default: '5' },
      levels: { type: 'string', default: '1,16,256' },
      'failover-rounds': { type: 'string', default: '5' },
      'value-bytes': { type: 'string', default: '1024' },
      'key-space': { type: 'string', default: '10000' },
      channels: { type: 'string', default: '8' },
    },
  });
  const targets: Flavor[] =
    values.target === 'both' ? ['raft-kv', 'etcd'] : values.target === 'etcd' ? ['etcd'] : values.target === 'raft-kv' ? ['raft-kv'] : [];
  if (targets.length === 0) throw new Error(`--target must be raft-kv, etcd or both, not ${values.target}`);
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  return {
    json: values.json,
    targets,
    settings: {
      durationSec: positive('duration', values.duration),
      levels: values.levels.split(',').map((l) => positive('levels', l)),
      failoverRounds: positive('failover-rounds', values['failover-rounds']),
      valueBytes: positive('value-bytes', values['value-bytes']),
      keySpace: positive('key-space', values['key-space']),
      channels: positive('channels', values.channels),
    },
  };
}

function summary(results: Record<string, TargetResult | { error: string }>): string {
  const lines: string[] = [];
  for (const [target, result] of Object.entries(results)) {
    if ('error' in result) {
      lines.push(`${target}: FAILED: ${result.error}`);
      continue;
    }
    lines.push(`${target}:`);
    for (const w of result.writes) {
      const leaderCosts = [
        w.fsyncsPerWrite ? `${w.fsyncsPerWrite.leader} fsyncs` : '',
        w.cpuMsPerWrite ? `${w.cpuMsPerWrite.leader} ms CPU` : '',
      ].filter((x) => x !== '');
      const costs = leaderCosts.length > 0 ? `  (leader, per write: ${leaderCosts.join(', ')})` : '';
      lines.push(
        `  ${String(w.clients).padStart(3)} clients: ${String(w.writesPerSec).padStart(8)} writes/s  p50 ${w.p50Ms} ms  p99 ${w.p99Ms} ms${costs}`,
      );
    }
    lines.push(`  failover: median ${result.failover.medianMs} ms (${result.failover.roundsMs.join(', ')})`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { json, targets, settings } = parseSettings();
  const progress = (line: string): void => {
    if (!json) console.log(line);
  };
  const results: Record<string, TargetResult | { error: string }> = {};
  // The machine may be shared: the load average around the run says how much the numbers can be trusted.
  const loadAverageBefore = round(loadavg()[0]!, 2);
  for (const target of targets) {
    try {
      results[target] = await benchTarget(target, settings, progress);
    } catch (err) {
      results[target] = { error: err instanceof Error ? err.message : String(err) };
    }
  }
  const failed = Object.values(results).some((r) => 'error' in r);
  if (json) {
    console.log(
      JSON.stringify({
        benchmark: 'raft-kv',
        host: { cpus: cpus().length, node: process.version, loadAverage1m: { before: loadAverageBefore, after: round(loadavg()[0]!, 2) } },
        settings,
        results,
      }),
    );
  } else {
    console.log(summary(results));
  }
  return failed ? 1 : 0;
}

// The cluster's exit handler removes the members and temp directories on any exit, including these.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
