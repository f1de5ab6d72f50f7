import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../common/logger.js';
import { FakeClock } from '../common/testing/fake-clock.js';
import { joinCluster, loadNodeCredentials, renewalTime, type NodeCredentials } from '../manager/ca/node-credentials.js';
import { waitFor } from '../../test/support/wait-for.js';
import { CertificateRenewer } from './renewal.js';
import { FakeManager } from './testing/fake-manager.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const HOUR = 3_600_000;

async function setup(managers: (m: FakeManager) => string[]) {
  const m = await FakeManager.start({ certificateLifetimeMs: HOUR });
  cleanups.push(() => m.close());
  const dir = mkdtempSync(join(tmpdir(), 'shoal-renewal-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const creds = await joinCluster({ address: m.address, token: m.joinToken(), requestedRole: 'worker', nodeKeyDir: dir });
  const clock = new FakeClock();
  // Wall time moves with the fake clock, from the real now.
  const start = Date.now();
  const outcome: { renewed: NodeCredentials[]; removed: string | undefined } = { renewed: [], removed: undefined };
  const renewer = new CertificateRenewer({
    credentials: creds,
    stateDir: dir,
    managers: () => managers(m),
    clock,
    now: () => start + clock.now(),
    random: { next: () => 1, int: (_lo, hi) => hi },
    logger: silentLogger,
    backoff: { initialMs: 1_000, maxMs: 4_000 },
    renewed: (c) => outcome.renewed.push(c),
    removed: (message) => (outcome.removed = message),
  });
  cleanups.push(() => renewer.stop());
  renewer.start();
  return { m, dir, creds, clock, renewer, outcome, dueIn: renewalTime(creds) - start };
}

describe('CertificateRenewer', () => {
  it('renews at half the lifetime, then again half the new lifetime later', async () => {
    const { m, dir, creds, clock, renewer, outcome, dueIn } = await setup((fm) => [fm.address]);
    clock.advance(dueIn - 1);
    expect(m.renewals).toBe(0);
    clock.advance(1);
    await waitFor('the renewal', () => outcome.renewed.length === 1);
    expect(renewer.credentials).toBe(outcome.renewed[0]);
    expect(loadNodeCredentials(dir)?.certPem).toBe(outcome.renewed[0]!.certPem);
    expect(outcome.renewed[0]!.nodeId).toBe(creds.nodeId);
    // The next one is due half an hour (less the CA's backdating) after the new certificate began.
    clock.advance(HOUR / 2);
    await waitFor('the second renewal', () => outcome.renewed.length === 2);
  });

  it('retries on failure after a back-off, through the next manager', async () => {
    const dead = await FakeManager.start();
    await dead.close();
    const { m, clock, outcome, dueIn } = await setup((fm) => [dead.address, fm.address]);
    clock.advance(dueIn);
    // The dead manager fails the attempt; a retry is set for the back-off's first step (1 s).
    await waitFor('the retry to be set', () => clock.pendingTimers() === 1);
    expect(outcome.renewed).toEqual([]);
    clock.advance(999);
    expect(m.renewals).toBe(0);
    clock.advance(1);
    await waitFor('the renewal', () => outcome.renewed.length === 1);
    expect(m.renewals).toBe(1);
  });

  it('ends when the managers say the node was removed', async () => {
    const { m, creds, clock, outcome, dueIn } = await setup((fm) => [fm.address]);
    m.removeNode(creds.nodeId);
    clock.advance(dueIn);
    await waitFor('the refusal', () => outcome.removed !== undefined);
    expect(outcome.removed).toMatch(/removed from the cluster/);
    expect(clock.pendingTimers()).toBe(0);
  });
});
