/**
 * Test support: serve a Control implementation on a unix socket, call it like the CLI does, and a
 * fake of the Raft reporting the service reads (a fake: no consensus behind it, tests set its answers).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, Server, ServerCredentials, type ServiceError } from '@grpc/grpc-js';
import { ControlClient, ControlService, type ControlServer } from '../../../../proto/gen/control.js';
import type { RaftStats } from '../../../raft/stats.js';
import type { Configuration, Role, Server as RaftServer } from '../../../raft/types.js';
import type { ControlMethod, RequestOf, ResponseOf } from '../control-service.js';
import type { RaftInfo } from '../manager-status.js';

/** A scratch directory for sockets, removed by cleanup(). */
export function socketDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-controlapi-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Serves `impl` at `unix://socketPath`; resolves once bound. */
export async function serveControl(impl: ControlServer, socketPath: string): Promise<Server> {
  const server = new Server();
  server.addService(ControlService, impl);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}

export async function stopServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
}

export function controlClient(socketPath: string): ControlClient {
  return new ControlClient(`unix://${socketPath}`, credentials.createInsecure());
}

/** One unary call; rejects with the gRPC ServiceError (code, details). */
export function callControl<M extends ControlMethod>(
  client: ControlClient,
  method: M,
  request: RequestOf<M>,
  metadata = new Metadata(),
): Promise<ResponseOf<M>> {
  const definition = ControlService[method];
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      definition.path,
      definition.requestSerialize as (value: RequestOf<M>) => Buffer,
      definition.responseDeserialize as (value: Buffer) => ResponseOf<M>,
      request,
      metadata,
      { deadline: Date.now() + 20_000 },
      (err: ServiceError | null, response?: ResponseOf<M>) => (err || response === undefined ? reject(err) : resolve(response)),
    );
  });
}

/** A FAKE of RaftNode's reporting side: the state, leader and configuration a test sets. */
export class FakeRaftInfo implements RaftInfo {
  role: Role = 'leader';
  leaderId: string | undefined;
  servers: RaftServer[];
  term = 3;
  commitIndex = 40;
  appliedIndex = 39;

  constructor(
    readonly id: string,
    servers?: RaftServer[],
  ) {
    this.servers = servers ?? [{ id, address: `unix:///${id}.sock`, suffrage: 'voter' }];
    this.leaderId = id;
  }

  state(): Role {
    return this.role;
  }

  leader(): { id: string; address: string } | undefined {
    const server = this.servers.find((s) => s.id === this.leaderId);
    return server && { id: server.id, address: server.address };
  }

  getConfiguration(): { configuration: Configuration; index: number } {
    return { configuration: { servers: this.servers }, index: 1 };
  }

  stats(): RaftStats {
    const configuration = this.getConfiguration().configuration;
    return {
      state: this.role,
      term: this.term,
      vote: '',
      leader: this.leaderId ?? '',
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
      firstLogIndex: 1,
      lastLogIndex: this.commitIndex,
      lastLogTerm: this.term,
      lastSnapshotIndex: 0,
      lastSnapshotTerm: 0,
      numPeers: configuration.servers.length - 1,
      latestConfiguration: configuration,
      latestConfigurationIndex: 1,
      fsyncs: 0,
      entriesPersisted: 0,
      entriesPerFsync: 0,
      readyPasses: 0,
      messagesSent: 0,
      entriesApplied: 0,
      snapshotsTaken: 0,
      snapshotsInstalled: 0,
    };
  }
}
