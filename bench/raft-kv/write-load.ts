/**
 * The load generator: `concurrency` closed-loop clients each putting 1 KiB values (by default) to
 * random keys of a bounded key space as fast as the cluster answers, for a fixed time. It reports
 * committed writes per second and latency percentiles of the writes that completed in the window.
 */
import { randomBytes } from 'node:crypto';
import { EtcdClient } from './etcd-client.js';

export interface WriteLoadOptions {
  endpoint: string;
  concurrency: number;
  durationMs: number;
  valueBytes: number;
  keySpace: number;
  /** gRPC channels the clients are spread over. */
  channels: number;
  requestTimeoutMs: number;
}

export interface WriteLoadResult {
  clients: number;
  durationSec: number;
  writes: number;
  errors: number;
  writesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function runWriteLoad(opts: WriteLoadOptions): Promise<WriteLoadResult> {
  const clients = Array.from({ length: Math.min(opts.channels, opts.concurrency) }, () => new EtcdClient(opts.endpoint));
  const value = randomBytes(opts.valueBytes);
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + opts.durationMs;

  const worker = async (client: EtcdClient): Promise<void> => {
    while (performance.now() < end) {
      const key = Buffer.from(`bench/${Math.floor(Math.random() * opts.keySpace)}`);
      const t0 = performance.now();
      try {
        await client.put(key, value, opts.requestTimeoutMs);
        const t1 = performance.now();
        if (t1 <= end) latencies.push(t1 - t0);
      } catch {
        errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => worker(clients[i % clients.length]!)));
  } finally {
    for (const c of clients) c.close();
  }

  latencies.sort((a, b) => a - b);
  const durationSec = opts.durationMs / 1000;
  return {
    clients: opts.concurrency,
    durationSec,
    writes: latencies.length,
    errors,
    writesPerSec: round(latencies.length / durationSec, 1),
    p50Ms: round(percentile(latencies, 0.5), 2),
    p99Ms: round(percentile(latencies, 0.99), 2),
    maxMs: round(latencies.at(-1) ?? 0, 2),
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
