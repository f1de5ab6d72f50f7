/**
 * The connection to a manager's control API: where to connect (`--host`, `SHOAL_HOST`, the default
 * socket), and a promise-returning wrapper over the generated gRPC client whose failures are
 * `ApiError`s carrying one readable line.
 */
import {
  credentials,
  Metadata,
  status,
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  ControlClient,
  type GetClusterResponse,
  type GetJoinTokenResponse,
  type ListNodesResponse,
  type ListServicesRequest,
  type ListServicesResponse,
  type ListTasksRequest,
  type ManagerStatus,
  type UpdateServiceRequest,
} from '../../proto/gen/control.js';
import type { Node, NodeRole, NodeSpec, Service, ServiceSpec, Task } from '../../proto/gen/objects.js';
import { grpcChannelCredentials, loadNodeCredentials, MANAGER_CHANNEL_OPTIONS, NODE_CREDENTIALS_FILE } from '../../src/manager/ca/index.js';
import { CliError, UsageError } from './errors.js';

export const DEFAULT_HOST = 'unix:///var/run/shoal/shoal.sock';

/** The host to talk to: the flag wins over SHOAL_HOST, which wins over the local socket. */
export function resolveHost(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  return flag || env.SHOAL_HOST || DEFAULT_HOST;
}

/** The gRPC target for a host: `unix:///abs/path` as is, `tcp://host:port` as `host:port`. */
export function grpcTarget(host: string): string {
  if (host.startsWith('unix://')) {
    if (!host.startsWith('unix:///')) throw new UsageError(`invalid host "${host}": a unix socket path must be absolute (unix:///path/to.sock)`);
    return host;
  }
  if (host.startsWith('tcp://')) {
    const rest = host.slice('tcp://'.length);
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:/\s]+):\d{1,5}$/.test(rest)) {
      throw new UsageError(`invalid host "${host}": use tcp://HOST:PORT`);
    }
    return rest;
  }
  throw new UsageError(`invalid host "${host}": use unix:///path/to.sock or tcp://host:port`);
}

/** A control API failure: the gRPC status code (for callers that handle NOT_FOUND or ABORTED) and one line. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly code: status,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface NodeDetails {
  readonly node: Node;
  /** Set when the node is a manager (a Raft member). */
  readonly managerStatus: ManagerStatus | undefined;
}

/**
 * A manager's port serves Control over mutual TLS to manager certificates only: the CLI presents
 * the node credentials of a manager (its state directory, readable by root alone).
 */
function managerTls(host: string, certPath: string | undefined): { channelCredentials: ChannelCredentials; options: ChannelOptions } {
  if (!certPath) {
    throw new UsageError(`${host} is a manager's TLS port: set SHOAL_CERT_PATH to a directory holding a manager's ${NODE_CREDENTIALS_FILE} (its --state-dir), or use the manager's unix socket`);
  }
  let creds;
  try {
    creds = loadNodeCredentials(certPath);
  } catch (err) {
    throw new CliError(`SHOAL_CERT_PATH: ${(err as Error).message}`);
  }
  if (creds === undefined) throw new CliError(`SHOAL_CERT_PATH: ${certPath} holds no ${NODE_CREDENTIALS_FILE}`);
  return { channelCredentials: grpcChannelCredentials(creds), options: MANAGER_CHANNEL_OPTIONS };
}

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** A call that takes longer than this has lost its manager; writes through Raft take milliseconds. */
const CALL_TIMEOUT_MS = 30_000;

export class ControlApi {
  private readonly client: ControlClient;

  /** `certPath`: for a tcp:// host, the directory holding a manager's node-credentials.pem (SHOAL_CERT_PATH). */
  constructor(
    readonly host: string,
    certPath?: string,
  ) {
    const target = grpcTarget(host);
    const { channelCredentials, options } = host.startsWith('tcp://') ? managerTls(host, certPath) : { channelCredentials: credentials.createInsecure(), options: {} };
    // No receive limit: `service ps` of a service with 100,000 tasks is tens of megabytes.
    this.client = new ControlClient(target, channelCredentials, { ...options, 'grpc.max_receive_message_length': -1 });
  }

  close(): void {
    this.client.close();
  }

  getCluster(): Promise<GetClusterResponse> {
    return this.call(this.client.getCluster, {});
  }

  async createService(spec: ServiceSpec): Promise<Service> {
    return required((await this.call(this.client.createService, { spec })).service, 'service');
  }

  /** By full id, unique id prefix or name. */
  async getService(id: string): Promise<Service> {
    return required((await this.call(this.client.getService, { id })).service, 'service');
  }

  listServices(request: Partial<ListServicesRequest> = {}): Promise<ListServicesResponse> {
    return this.call(this.client.listServices, { names: [], labels: {}, ...request });
  }

  async updateService(request: UpdateServiceRequest): Promise<Service> {
    return required((await this.call(this.client.updateService, request)).service, 'service');
  }

  async removeService(id: string): Promise<void> {
    await this.call(this.client.removeService, { id });
  }

  /** By full id or unique id prefix. */
  async getTask(id: string): Promise<Task> {
    return required((await this.call(this.client.getTask, { id })).task, 'task');
  }

  async listTasks(request: Partial<ListTasksRequest> = {}): Promise<Task[]> {
    return (await this.call(this.client.listTasks, { serviceIds: [], nodeIds: [], desiredStates: [], ...request })).tasks;
  }

  async getNode(id: string): Promise<NodeDetails> {
    const res = await this.call(this.client.getNode, { id });
    return { node: required(res.node, 'node'), managerStatus: res.managerStatus };
  }

  listNodes(): Promise<ListNodesResponse> {
    return this.call(this.client.listNodes, {});
  }

  async updateNode(id: string, version: number, spec: NodeSpec): Promise<Node> {
    return required((await this.call(this.client.updateNode, { id, version, spec })).node, 'node');
  }

  async removeNode(id: string, force: boolean): Promise<void> {
    await this.call(this.client.removeNode, { id, force });
  }

  /** The role's join token (rotated first if asked) and the managers' addresses. */
  getJoinToken(role: NodeRole, rotate: boolean): Promise<GetJoinTokenResponse> {
    return this.call(this.client.getJoinToken, { role, rotate });
  }

  private call<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, request, new Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) => {
        if (error) reject(this.explain(error));
        else resolve(response);
      });
    });
  }

  private explain(error: ServiceError): ApiError {
    switch (error.code) {
      case status.UNAVAILABLE:
        // The manager itself answers UNAVAILABLE while there is no leader; only a failed connection is unreachable.
        if (!isConnectionFailure(error.details)) return new ApiError(error.details, error.code);
        return new ApiError(`cannot reach the manager at ${this.host}: ${connectionProblem(error.details)}`, error.code);
      case status.DEADLINE_EXCEEDED:
        return new ApiError(`the manager at ${this.host} did not answer within ${CALL_TIMEOUT_MS / 1000}s`, error.code);
      default:
        return new ApiError(error.details || error.message, error.code);
    }
  }
}

function isConnectionFailure(details: string): boolean {
  return details === '' || /No connection established|Connection dropped|failed to connect|Last error:/i.test(details);
}

/** grpc-js wraps the socket error ("No connection established. Last error: Error: connect ENOENT /x. Resolution note: "): keep the socket error. */
function connectionProblem(details: string): string {
  const m = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/s.exec(details);
  return (m?.[1] ?? details).trim() || 'unavailable';
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new CliError(`the manager answered without a ${what}`);
  return value;
}
