/**
 * Test support for the driver's tests: a small key-value FSM and a cluster of RaftNodes on an
 * InmemNetwork with real (short) timers. Each server keeps its stores across restarts, so a test
 * can stop a server and start it again from exactly what it had persisted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FSM } from './fsm.js';
import { RaftNode } from './node.js';
import type { RaftOptions } from './options.js';
import { FileSnapshotStore, FileStableStore, InmemLogStore, InmemSnapshotStore, InmemStableStore, WalLogStore } from './storage/index.js';
import type { LogStore, SnapshotStore, StableStore } from './storage/types.js';
import { InmemNetwork, type InmemTransport } from './transport/inmem.js';
import type { Configuration, Entry, ServerId } from './types.js';

/** Commands are "key=value"; apply returns the previous value of the key (null if none). */
export class KvFsm implements FSM {
  data = new Map<string, string>();
  /** Every command applied, in order, across snapshots: followers must end up with the same. */
  history: string[] = [];

  apply(entry: Entry): unknown {
    const command = new TextDecoder().decode(entry.data);
    const [key, value] = command.split('=');
    const previous = this.data.get(key) ?? null;
    this.data.set(key, value);
    this.history.push(command);
    return previous;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ data: [...this.data], history: this.history }));
  }

  restore(bytes: Uint8Array): void {
    const state = JSON.parse(new TextDecoder().decode(bytes)) as { data: [string, string][]; history: string[] };
    this.data = new Map(state.data);
    this.history = state.history;
  }
}

export function command(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

interface Stores {
  logStore: LogStore;
  stableStore: StableStore;
  snapshotStore: SnapshotStore;
}

export interface TestServer {
  id: ServerId;
  address: string;
  node: RaftNode;
  fsm: KvFsm;
  transport: InmemTransport;
  stores: Stores;
}

export interface ClusterOptions {
  /** 'wal' puts every server's stores in a temporary directory, so restarts reopen real files. */
  storage?: 'memory' | 'wal';
  node?: Partial<Omit<RaftOptions, 'id' | 'fsm' | 'logStore' | 'stableStore' | 'snapshotStore' | 'transport'>>;
}

/** Short enough for quick tests, long enough for a busy two-core machine not to flap elections. */
export const FAST_TIMING = { tickMs: 10, heartbeatTimeoutMs: 150, electionTimeoutMs: 150 } as const;

export class TestCluster {
  readonly network = new InmemNetwork();
  readonly servers = new Map<ServerId, TestServer>();
  private readonly stoppedStores = new Map<ServerId, Stores>();
  private readonly dir: string | undefined;

  constructor(private readonly options: ClusterOptions = {}) {
    if (options.storage === 'wal') this.dir = mkdtempSync(join(tmpdir(), 'shoal-raft-node-'));
  }

  /** Creates and starts servers, each bootstrapped with the same configuration of all of them (as hashicorp/raft advises). */
  static async bootstrap(ids: ServerId[], options: ClusterOptions = {}): Promise<TestCluster> {
    const cluster = new TestCluster(options);
    const configuration: Configuration = {
      servers: ids.map((id) => ({ id, address: addressOf(id), suffrage: 'voter' })),
    };
    for (const id of ids) {
      const server = cluster.add(id);
      server.node.bootstrapCluster(configuration);
      server.node.start();
    }
    return cluster;
  }

  /** A new server with empty stores (not started). */
  add(id: ServerId, overrides: ClusterOptions['node'] = {}): TestServer {
    return this.launch(id, this.createStores(id), overrides);
  }

  get(id: ServerId): TestServer {
    const server = this.servers.get(id);
    if (server === undefined) throw new Error(`no server ${id}`);
    return server;
  }

  /** Stops a server and starts it again from its stores (reopened from disk under 'wal'). */
  async restart(id: ServerId): Promise<TestServer> {
    await this.stop(id);
    return this.start(id);
  }

  /** Starts a stopped server again from what it had persisted. */
  start(id: ServerId): TestServer {
    const kept = this.stoppedStores.get(id);
    if (kept === undefined) throw new Error(`server ${id} was never stopped`);
    this.stoppedStores.delete(id);
    const stores = this.options.storage === 'wal' ? this.createStores(id) : kept;
    const server = this.launch(id, stores, {});
    server.node.start();
    return server;
  }

  async stop(id: ServerId): Promise<void> {
    const server = this.get(id);
    await server.node.shutdown();
    await server.transport.close();
    if (this.options.storage === 'wal') server.stores.logStore.close();
    this.servers.delete(id);
    this.stoppedStores.set(id, server.stores);
  }

  async waitForLeader(among: ServerId[] = [...this.servers.keys()], timeoutMs = 10_000): Promise<TestServer> {
    let found: TestServer | undefined;
    await waitFor(() => {
      const leaders = among.map((id) => this.servers.get(id)).filter((s) => s?.node.state() === 'leader');
      // One leader that every listed server agrees on: a stale leader still thinking it leads would not count.
      const agreed = leaders.length === 1 && among.every((id) => this.servers.get(id)?.node.leader()?.id === leaders[0]?.id);
      found = agreed ? leaders[0] : undefined;
      return found !== undefined;
    }, timeoutMs);
    return found!;
  }

  async shutdown(): Promise<void> {
    for (const id of [...this.servers.keys()]) await this.stop(id);
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
  }

  private launch(id: ServerId, stores: Stores, overrides: ClusterOptions['node']): TestServer {
    const fsm = new KvFsm();
    const address = addressOf(id);
    const transport = this.network.connect(address);
    const node = new RaftNode({ ...FAST_TIMING, ...this.options.node, ...overrides, id, fsm, transport, ...stores });
    const server: TestServer = { id, address, node, fsm, transport, stores };
    this.servers.set(id, server);
    return server;
  }

  private createStores(id: ServerId): Stores {
    if (this.dir === undefined) {
      return { logStore: new InmemLogStore(), stableStore: new InmemStableStore(), snapshotStore: new InmemSnapshotStore() };
    }
    const base = join(this.dir, id);
    return {
      logStore: new WalLogStore({ dir: join(base, 'wal') }),
      stableStore: new FileStableStore({ dir: join(base, 'stable') }),
      snapshotStore: new FileSnapshotStore({ dir: join(base, 'snapshots') }),
    };
  }
}

export function addressOf(id: ServerId): string {
  return `inmem-${id}`;
}

/** Polls `condition` until it holds; throws with `what` when it does not within timeoutMs. */
export async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
