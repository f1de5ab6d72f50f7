/**
 * Test support: dispatchers served over real TLS on loopback, with certificates from a test CA,
 * and node clients holding worker (or manager, or no) certificates. The store is an in-memory test
 * store (a fake proposer stands in for Raft); "leaders" are whatever the test says they are.
 */
import * as grpc from '@grpc/grpc-js';
import { DispatcherClient, DispatcherService, type SessionMessage } from '../../../../proto/gen/dispatcher.js';
import { Cluster, Node, NodeRole } from '../../../../proto/gen/objects.js';
import { createCaState } from '../../ca/ca-state.js';
import { grpcChannelCredentials, joiningChannelCredentials, MANAGER_CHANNEL_OPTIONS, NodeServerCredentials } from '../../ca/grpc-credentials.js';
import { issueLocalNodeCredentials, type NodeCredentials } from '../../ca/node-credentials.js';
import type { NodeRoleName } from '../../ca/roles.js';
import type { CaState } from '../../../../proto/gen/ca.js';
import type { ReplicatedStore } from '../../../store/replicated-store.js';
import { waitFor } from '../../../../test/support/wait-for.js';
import { Dispatcher, type DispatcherOptions } from '../dispatcher.js';

export interface ServedDispatcher {
  dispatcher: Dispatcher;
  /** host:port to dial (IPv6 hosts bracketed). */
  address: string;
  /** This manager's own credentials: what its port presents and what it dials the leader with. */
  creds: NodeCredentials;
}

export class TlsDispatchers {
  readonly ca: CaState = createCaState('cluster-test');
  private readonly cleanups: (() => void)[] = [];

  /** Serves a dispatcher for manager `managerId` on `host` (127.0.0.1 or ::1). */
  async serve(
    managerId: string,
    options: Omit<DispatcherOptions, 'managerChannel'>,
    host = '127.0.0.1',
  ): Promise<ServedDispatcher> {
    const creds = issueLocalNodeCredentials(this.ca, { nodeId: managerId, role: 'manager' }, { addresses: [host] });
    const channel = { credentials: grpcChannelCredentials(creds), options: MANAGER_CHANNEL_OPTIONS };
    const dispatcher = new Dispatcher({ ...options, managerChannel: () => channel });
    const server = new grpc.Server();
    server.addService(DispatcherService, dispatcher.implementation);
    const bracketed = host.includes(':') ? `[${host}]` : host;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${bracketed}:0`, new NodeServerCredentials(creds, { requireClientCert: false }), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.cleanups.push(() => {
      dispatcher.close();
      server.forceShutdown();
    });
    return { dispatcher, address: `${bracketed}:${port}`, creds };
  }

  /** A client holding a certificate for `nodeId` with `role`; 'none' presents no certificate. */
  client(address: string, nodeId: string, role: NodeRoleName | 'none' = 'worker'): DispatcherClient {
    const credentials =
      role === 'none' ? joiningChannelCredentials(this.ca.rootCaCertPem) : grpcChannelCredentials(issueLocalNodeCredentials(this.ca, { nodeId, role }));
    const client = new DispatcherClient(address, credentials, MANAGER_CHANNEL_OPTIONS);
    this.cleanups.push(() => client.close());
    return client;
  }

  /** Calls `fn` at cleanup (e.g. cancelling a stream). */
  onCleanup(fn: () => void): void {
    this.cleanups.push(fn);
  }

  close(): void {
    for (const fn of this.cleanups.splice(0).reverse()) fn();
  }
}

/** The Cluster object and a joined worker's Node object, as the CA's join would leave them. */
export async function seedCluster(store: ReplicatedStore, heartbeatPeriodMs: number, nodeIds: readonly string[]): Promise<void> {
  await store.update((tx) => {
    tx.clusters.create(Cluster.fromPartial({ meta: { id: 'cluster' }, spec: { heartbeatPeriodMs, taskHistoryRetentionLimit: 5 } }));
    for (const id of nodeIds) tx.nodes.create(Node.fromPartial({ meta: { id }, role: NodeRole.NODE_ROLE_WORKER }));
  });
}

export interface OpenSession {
  call: grpc.ClientReadableStream<SessionMessage>;
  messages: SessionMessage[];
  error: () => grpc.ServiceError | undefined;
  last: () => SessionMessage;
}

/** Opens a session on `client` and records what arrives. */
export function openSession(harness: TlsDispatchers, client: DispatcherClient, hostname = 'node-a'): OpenSession {
  const call = client.session({ description: { hostname, labels: { disk: 'ssd' } } });
  const messages: SessionMessage[] = [];
  let error: grpc.ServiceError | undefined;
  call.on('data', (m: SessionMessage) => messages.push(m));
  call.on('error', (err: grpc.ServiceError) => (error = err));
  harness.onCleanup(() => call.cancel());
  return { call, messages, error: () => error, last: () => messages[messages.length - 1] };
}

/** Opens a session and waits for its first message (the node is registered then). */
export async function registered(harness: TlsDispatchers, client: DispatcherClient, hostname?: string): Promise<OpenSession & { sessionId: string }> {
  const s = openSession(harness, client, hostname);
  await waitFor('the first session message', () => s.messages.length > 0 || s.error() !== undefined);
  if (s.error()) throw s.error();
  return { ...s, sessionId: s.messages[0].sessionId };
}

export function promised<Res>(start: (callback: (err: grpc.ServiceError | null, response?: Res) => void) => void): Promise<Res> {
  return new Promise<Res>((resolve, reject) => start((err, response) => (err ? reject(err) : resolve(response!))));
}
