import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCaState, issueLocalNodeCredentials, saveNodeCredentials } from './ca/index.js';
import { forgetInitCa, loadOrCreateManagerIdentity } from './manager-identity.js';

describe('a manager’s identity', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function stateDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-identity-'));
    dirs.push(dir);
    return dir;
  }
  const base = { init: false, raftAddress: '127.0.0.1:4242' };

  it('is created with the cluster’s CA at --init and read back on restart', async () => {
    const dir = stateDir();
    const first = await loadOrCreateManagerIdentity({ ...base, stateDir: dir, init: true, nodeId: 'm1' });
    expect(first.credentials).toMatchObject({ nodeId: 'm1', role: 'manager', clusterId: first.initCa?.clusterId });
    expect(first.credentials.rootPem).toBe(first.initCa?.rootCaCertPem);
    expect(statSync(join(dir, 'node-credentials.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'cluster-ca.pb')).mode & 0o777).toBe(0o600);

    // Restarted before the first leader stored the CA: the CA is still there to store.
    const again = await loadOrCreateManagerIdentity({ ...base, stateDir: dir, init: true });
    expect(again.credentials.certPem).toBe(first.credentials.certPem);
    expect(again.initCa).toEqual(first.initCa);

    forgetInitCa(dir);
    expect(existsSync(join(dir, 'cluster-ca.pb'))).toBe(false);
    expect((await loadOrCreateManagerIdentity({ ...base, stateDir: dir })).initCa).toBeUndefined();
  });

  it('refuses a --node-id other than the recorded one, and an invalid one', async () => {
    const dir = stateDir();
    await loadOrCreateManagerIdentity({ ...base, stateDir: dir, init: true, nodeId: 'm1' });
    await expect(loadOrCreateManagerIdentity({ ...base, stateDir: dir, nodeId: 'm2' })).rejects.toThrow('--node-id m2 conflicts with m1');
    await expect(loadOrCreateManagerIdentity({ ...base, stateDir: stateDir(), init: true, nodeId: 'a b' })).rejects.toThrow(/--node-id "a b"/);
  });

  it('refuses a state directory holding a worker’s credentials', async () => {
    const dir = stateDir();
    saveNodeCredentials(dir, issueLocalNodeCredentials(createCaState('c1'), { nodeId: 'w1', role: 'worker' }));
    await expect(loadOrCreateManagerIdentity({ ...base, stateDir: dir })).rejects.toThrow(/holds the credentials of worker w1, not of a manager/);
  });

  it('needs --init or --join on an empty state directory, not both', async () => {
    await expect(loadOrCreateManagerIdentity({ ...base, stateDir: stateDir() })).rejects.toThrow(/holds no cluster state: start with --init/);
    await expect(
      loadOrCreateManagerIdentity({ ...base, stateDir: stateDir(), init: true, join: { address: '127.0.0.1:1', token: 'x' } }),
    ).rejects.toThrow(/give one of them/);
  });
});
