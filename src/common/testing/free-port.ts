/**
 * A loopback TCP port for a server a test starts (a manager, a registry). Asking the kernel for a
 * free one and closing it races: between the close and the server's bind, a test file running at
 * the same time may be handed the same port, or an outgoing connection may take it as its source
 * port. So inside vitest each worker (VITEST_POOL_ID) takes ports from a band of its own, below
 * the kernel's ephemeral range (32768-60999) where neither can happen; a port still held (by what
 * an earlier file of the same worker left running) is skipped. Outside vitest (the benchmarks run
 * one at a time), the kernel picks.
 */
import { createServer } from 'node:net';

/** Ports 20000-29999, in bands of 500: one per vitest worker. */
const FIRST_PORT = 20_000;
const BAND = 500;
const BANDS = 20;

let next: number | undefined;

export async function freePort(): Promise<number> {
  const pool = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(pool) || pool < 1) return bindable(0);
  const start = FIRST_PORT + ((pool - 1) % BANDS) * BAND;
  // A random place in the band to begin with: files of one worker take turns, and a port the last
  // one used may not be free again yet.
  next ??= Math.floor(Math.random() * BAND);
  for (let tries = 0; tries < BAND; tries++) {
    const port = start + (next++ % BAND);
    const got = await bindable(port).catch(() => undefined);
    if (got !== undefined) return got;
  }
  throw new Error(`no free port in ${start}-${start + BAND - 1}`);
}

/** `count` different ports, as freePort picks them. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Binds `port` (0: any) on 127.0.0.1 and lets it go; rejects when it is taken. */
function bindable(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}
