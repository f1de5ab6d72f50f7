import { describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait-for.js';
import { silentLogger } from '../common/logger.js';
import { createTestStore } from '../store/testing/test-store.js';
import { createCaState } from './ca/index.js';
import { DEFAULT_HEARTBEAT_PERIOD_MS, DEFAULT_TASK_HISTORY_RETENTION_LIMIT, ensureCluster, type ClusterSeed } from './cluster-object.js';
import { founderNode } from './node-admission.js';
import { LeaderDuties, type LeaderLoop } from './leader-duties.js';

function recordingLoops(log: string[]): () => LeaderLoop[] {
  let term = 0;
  return () => {
    term++;
    return ['a', 'b'].map((name) => ({
      start: () => void log.push(`start ${name}${term}`),
      stop: () => void log.push(`stop ${name}${term}`),
    }));
  };
}

const seed: ClusterSeed = { ca: createCaState('cluster-1'), founder: founderNode('m1') };

describe('LeaderDuties', () => {
  it('creates the cluster object once, then starts fresh loops each term and stops them in reverse', async () => {
    const { store } = createTestStore();
    const log: string[] = [];
    const duties = new LeaderDuties({ store, barrier: async () => 0, createLoops: recordingLoops(log),
      prepare: () => ensureCluster(store, { heartbeatPeriodMs: 700 }, seed),
      logger: silentLogger,
    });

    await duties.begin();
    expect(duties.active).toBe(true);
    const [cluster] = store.view((tx) => tx.clusters.all());
    expect(cluster.spec).toMatchObject({ taskHistoryRetentionLimit: DEFAULT_TASK_HISTORY_RETENTION_LIMIT, heartbeatPeriodMs: 700, annotations: { name: 'default' } });
    expect(cluster.meta?.id).toBe('cluster-1');
    expect(cluster.ca).toEqual(seed.ca);
    expect(store.view((tx) => tx.nodes.get('m1')?.spec?.desiredRole)).toBe(seed.founder.spec?.desiredRole);

    await duties.end();
    expect(duties.active).toBe(false);
    await duties.begin();
    await duties.end();
    expect(log).toEqual(['start a1', 'start b1', 'stop b1', 'stop a1', 'start a2', 'start b2', 'stop b2', 'stop a2']);
    expect(store.view((tx) => tx.clusters.count())).toBe(1);
  });

  it('defaults the heartbeat period', async () => {
    const { store } = createTestStore();
    await ensureCluster(store, {}, seed);
    expect(store.view((tx) => tx.clusters.all()[0]?.spec?.heartbeatPeriodMs)).toBe(DEFAULT_HEARTBEAT_PERIOD_MS);
  });

  it('creates no cluster without the founder’s seed, and leaves an existing one alone', async () => {
    const { store } = createTestStore();
    expect(await ensureCluster(store, {}, undefined)).toBe(false);
    expect(store.view((tx) => tx.clusters.count())).toBe(0);
    expect(await ensureCluster(store, { heartbeatPeriodMs: 700 }, seed)).toBe(true);
    expect(await ensureCluster(store, { heartbeatPeriodMs: 900 }, { ...seed, ca: createCaState('cluster-2') })).toBe(true);
    expect(store.view((tx) => tx.clusters.all().map((c) => [c.meta?.id, c.spec?.heartbeatPeriodMs]))).toEqual([['cluster-1', 700]]);
  });

  it('starts nothing if leadership ends while it waits for the barrier', async () => {
    const { store } = createTestStore();
    const log: string[] = [];
    let release = (): void => undefined;
    const barrier = () => new Promise<number>((resolve) => (release = () => resolve(0)));
    const duties = new LeaderDuties({ store, barrier, createLoops: recordingLoops(log), logger: silentLogger });
    const begun = duties.begin();
    await duties.end();
    release();
    await begun;
    expect(log).toEqual([]);
    expect(store.view((tx) => tx.clusters.count())).toBe(0);
  });

  it('retries until it can write, while still leader', async () => {
    const { store, proposer } = createTestStore();
    proposer.refuse(new Error('no quorum yet'));
    const log: string[] = [];
    const duties = new LeaderDuties({ store, barrier: async () => 0, createLoops: recordingLoops(log), prepare: () => ensureCluster(store, {}, seed), logger: silentLogger, retryMs: 5 });
    const begun = duties.begin();
    await waitFor('a second attempt', () => proposer.proposals.length >= 2);
    expect(log).toEqual([]);
    proposer.accept();
    await begun;
    expect(log).toEqual(['start a1', 'start b1']);
  });
});
