/**
 * Leader failover time: kill -9 the leader, then keep starting writes through the survivors, a new
 * one every few milliseconds, until one commits. The time from the kill to that first commit is what
 * a client sees as the cluster's outage. Probes overlap so that one stuck on a dead leader does not
 * hide a later one that would succeed.
 */
import { sleep, type LocalCluster } from './local-cluster.js';

export interface FailoverOptions {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  giveUpMs: number;
}

export async function measureFailover(cluster: LocalCluster, opts: FailoverOptions): Promise<{ ms: number; killed: string }> {
  const leader = await cluster.waitForSettled();
  const survivors = cluster.runningMembers().filter((m) => m.id !== leader.id);
  const value = Buffer.alloc(1024, 'f');

  const killedAt = performance.now();
  await cluster.kill(leader.id);

  let committedAt: number | undefined;
  let probe = 0;
  while (committedAt === undefined) {
    if (performance.now() - killedAt > opts.giveUpMs) {
      throw new Error(`no write committed within ${opts.giveUpMs} ms of killing ${leader.id}`);
    }
    const target = survivors[probe % survivors.length]!;
    const key = Buffer.from(`failover/${probe++}`);
    cluster
      .client(target.id)
      .put(key, value, opts.probeTimeoutMs)
      .then(
        () => {
          committedAt ??= performance.now();
        },
        () => undefined,
      );
    await sleep(opts.probeIntervalMs);
  }
  return { ms: committedAt - killedAt, killed: leader.id };
}
