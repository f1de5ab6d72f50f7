/**
 * LocalRegistry.start through deploy/images/registry.sh, against the races a busy machine makes: a
 * registry slow to exec, and a port taken between asking and binding (by another listener or an
 * outgoing connection). Needs docker-registry and curl.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
  vi.unstubAllEnvs();
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

  it('waits for a registry that is slow to start, though its command line does not name it yet', async () => {
    // As on a loaded machine, where the started child may not have exec'd the registry when first looked at.
    const dir = await mkdtemp(join(tmpdir(), 'shoal-slow-registry-'));
    try {
      const slow = join(dir, 'slow-start');
      await writeFile(slow, '#!/bin/sh\nsleep 0.5\nexec /usr/bin/docker-registry "$@"\n');
      await chmod(slow, 0o755);
      vi.stubEnv('SHOAL_REGISTRY_BIN', slow);
      const registry = await LocalRegistry.start();
      try {
        expect((await fetch(`http://${registry.host}/v2/`)).status).toBe(200);
      } finally {
        await registry.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives up after three taken ports with the registry error', async () => {
    const taken = [await occupiedPort(), await occupiedPort(), await occupiedPort()];
    let asked = 0;
    await expect(LocalRegistry.start({ pickPort: async () => taken[asked++]! })).rejects.toThrow(/already in use/);
    expect(asked).toBe(3);
  });
});
