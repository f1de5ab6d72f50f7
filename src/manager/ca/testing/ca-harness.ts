/**
 * Test support: a manager's TLS port on loopback serving the real NodeCA service, with the CA
 * state, the removed nodes and the desired roles held in memory where a test can change them, and
 * a probe service that only managers may call (requireRole).
 */
import { Client, Metadata, Server, type sendUnaryData, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { NodeCAClient, NodeCAService, type CaState } from '../../../../proto/gen/ca.js';
import { requireRole } from '../authorize.js';
import { createNodeCAService } from '../ca-service.js';
import { createCaState } from '../ca-state.js';
import { grpcChannelCredentials, joiningChannelCredentials, MANAGER_CHANNEL_OPTIONS, NodeServerCredentials } from '../grpc-credentials.js';
import type { NodeIdentity } from '../issuer.js';
import { issueLocalNodeCredentials, type NodeCredentials } from '../node-credentials.js';
import type { NodeRoleName } from '../roles.js';

const identity = (b: Buffer) => b;

/** A service only managers may call; it answers with the caller's node id. */
export const MANAGER_ONLY_PROBE = {
  whoAmI: {
    path: '/shoal.test.ManagerOnly/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface TestManager {
  address: string;
  /** Replace to rotate tokens: the service reads it on every call. */
  state: CaState;
  /** This manager's own credentials (what its TLS port presents). */
  creds: NodeCredentials;
  serverCredentials: NodeServerCredentials;
  /** Every node the CA admitted, in order. */
  joined: NodeIdentity[];
  removed: Set<string>;
  desiredRoles: Map<string, NodeRoleName>;
  /** When set, onNodeJoining throws it (e.g. the store refused to record the node). */
  joinRefusal: Error | undefined;
  stop(): Promise<void>;
}

export interface TestManagerOptions {
  state?: CaState;
  certificateLifetimeMs?: number;
  /** The role of the certificate the port presents; a worker's lets tests check clients refuse it. */
  serverRole?: NodeRoleName;
}

export async function startTestManager(options: TestManagerOptions = {}): Promise<TestManager> {
  const state = options.state ?? createCaState('cluster-test');
  const creds = issueLocalNodeCredentials(state, { nodeId: 'manager-1', role: options.serverRole ?? 'manager' }, { addresses: ['127.0.0.1'] });
  const serverCredentials = new NodeServerCredentials(creds, { requireClientCert: false });
  const server = new Server();
  const manager: TestManager = {
    address: '',
    state,
    creds,
    serverCredentials,
    joined: [],
    removed: new Set(),
    desiredRoles: new Map(),
    joinRefusal: undefined,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(
    NodeCAService,
    createNodeCAService({
      caState: () => manager.state,
      isNodeActive: (id) => !manager.removed.has(id),
      onNodeJoining: (node) => {
        if (manager.joinRefusal) throw manager.joinRefusal;
        manager.joined.push(node);
      },
      desiredRole: (id) => manager.desiredRoles.get(id),
      certificateLifetimeMs: () => options.certificateLifetimeMs,
    }),
  );
  server.addService(MANAGER_ONLY_PROBE, {
    whoAmI: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      try {
        callback(null, Buffer.from(requireRole(call, 'manager').nodeId));
      } catch (err) {
        callback(err as ServiceError);
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  manager.address = `127.0.0.1:${port}`;
  return manager;
}

/** Calls the manager-only probe with a node's credentials; resolves to the id the server saw. */
export function callProbe(address: string, creds: NodeCredentials): Promise<string> {
  const client = new Client(address, grpcChannelCredentials(creds), MANAGER_CHANNEL_OPTIONS);
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(MANAGER_ONLY_PROBE.whoAmI.path, identity, identity, Buffer.alloc(0), new Metadata(), { deadline: Date.now() + 10_000 }, (err: ServiceError | null, value?: Buffer) => {
      client.close();
      if (err) reject(err);
      else resolve(value!.toString());
    });
  });
}

/** A NodeCA client for a node without a certificate, trusting `rootPem`: for raw calls. */
export function anonymousCaClient(address: string, rootPem: string): NodeCAClient {
  return new NodeCAClient(address, joiningChannelCredentials(rootPem), MANAGER_CHANNEL_OPTIONS);
}

export function promisify<Res>(start: (callback: (err: ServiceError | null, response: Res) => void) => void): Promise<Res> {
  return new Promise<Res>((resolve, reject) => start((err, response) => (err ? reject(err) : resolve(response))));
}
