/** freePort's bands (src/common/testing/free-port.ts), against real sockets on loopback. */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';

const held: Server[] = [];

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.resetModules();
  await Promise.all(held.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A fresh copy of the module, so that the place it starts in its band is picked anew. */
async function load(): Promise<typeof import('./free-port.js')> {
  return import('./free-port.js');
}

async function hold(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) held.push(server);
  return ok;
}

describe('freePort', () => {
  it('gives each vitest worker ports from a band of its own, below the ephemeral range', async () => {
    // Bands far above this machine's real workers', so as not to step on their ports.
    vi.stubEnv('VITEST_POOL_ID', '19');
    const { freePorts } = await load();
    const ports = await freePorts(5);
    expect(new Set(ports).size).toBe(5);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(29_000);
      expect(port).toBeLessThan(29_500);
    }
  });

  it('skips a port that is held, and hands out one that can be bound', async () => {
    vi.stubEnv('VITEST_POOL_ID', '20');
    const { freePort } = await load();
    const first = await freePort();
    // Hold the next few ports of the band: the next pick must step over them.
    const heldPorts: number[] = [];
    for (let p = first + 1; p <= first + 3 && p < 30_000; p++) if (await hold(p)) heldPorts.push(p);
    const next = await freePort();
    expect(heldPorts).not.toContain(next);
    expect(await hold(next)).toBe(true);
  });

  it('asks the kernel outside vitest', async () => {
    vi.stubEnv('VITEST_POOL_ID', '');
    const { freePort } = await load();
    expect(await hold(await freePort())).toBe(true);
  });
});
