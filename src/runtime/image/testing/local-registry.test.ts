/**
 * LocalRegistry.start with a port taken between asking and binding: a race that other tests'
 * listeners and outgoing connections make real on a busy machine. Needs docker-registry and curl.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../common/testing/free-port.js';
import { LocalRegistry } from './local-registry.js';

const listeners: Server[] = [];

/** A plain TCP listener on a loopback port: it holds the port but never answers HTTP. */
async function occupiedPort(): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  listeners.push(server);
  return (server.address() as { port: number }).port;
}

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('LocalRegistry.start', () => {
  it('tries another port when the one it picked is taken before the registry binds it', async () => {
    const taken = await occupiedPort();
    const ports = [taken, await freePort()];
    const registry = await LocalRegistry.start({ pickPort: async () => ports.shift()! });
    try {
      expect(registry.port).not.toBe(taken);
      const res = await fetch(`http://${registry.host}/v2/`);
      expect(res.status).toBe(200);
    } finally {
      await registry.stop();
    }
  });

  it('gives up after three taken ports with the registry error', async () => {
    const taken = [await occupiedPort(), await occupiedPort(), await occupiedPort()];
    let asked = 0;
    await expect(LocalRegistry.start({ pickPort: async () => taken[asked++]! })).rejects.toThrow(/already in use/);
    expect(asked).toBe(3);
  });
});
