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
  type ListNetworksRequest,
  type ListNodesResponse,
  type ListServicesRequest,
  type ListServicesResponse,
  type ListTasksRequest,
  type ManagerStatus,
  type SubscribeLogsMessage,
  type SubscribeLogsRequest,
  type UpdateServiceRequest,
} from '../../proto/gen/control.js';
import type { Network, NetworkSpec, Node, NodeRole, NodeSpec, Service, ServiceSpec, Task } from '../../proto/gen/objects.js';
import { grpcChannelCredentials, loadNodeCredentials, MANAGER_CHANNEL_OPTIONS, NODE_CREDENTIALS_FILE } from '../../src/manager/ca/index.js';
import { CliError, UsageError } from './errors.js';

export const DEFAULT_HOST = 'unix:///var/run/shoal/shoal.sock';

/** The host to talk to: the flag wins over SHOAL_HOST, which wins over the local socket. */
export function resolveHost(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  return flag || env.SHOAL_HOST || DEFAULT_HOST;
}

/**
 * The managers a host setting names: one host, or several separated by commas (the CLI tries them
 * in order and uses the first that answers, so one manager's failure does not stop it).
 */
export function parseHosts(value: string): string[] {
  const hosts = value.split(',').map((h) => h.trim());
  if (hosts.some((h) => h === '')) throw new UsageError(`invalid host list "${value}": an entry is empty`);
  for (const host of hosts) grpcTarget(host);
  return hosts;
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
    /** No connection to the manager could be made: the call certainly did not reach it. */
    readonly unreachable = false,
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
  readonly hosts: readonly string[];
  /** The host calls go to: the first of the list until one cannot be reached. */
  private current = 0;
  private readonly clients: (ControlClient | undefined)[] = [];

  /**
   * `hosts`: one host or a comma-separated list (SHOAL_HOST). `certPath`: for a tcp:// host, the
   * directory holding a manager's node-credentials.pem (SHOAL_CERT_PATH).
   */
  constructor(
    hosts: string,
    private readonly certPath?: string,
  ) {
    this.hosts = parseHosts(hosts);
  }

  get host(): string {
    return this.hosts[this.current]!;
  }

  private get client(): ControlClient {
    return (this.clients[this.current] ??= this.connect(this.host));
  }

  private connect(host: string): ControlClient {
    const target = grpcTarget(host);
    const { channelCredentials, options } = host.startsWith('tcp://') ? managerTls(host, this.certPath) : { channelCredentials: credentials.createInsecure(), options: {} };
    // No receive limit: `service ps` of a service with 100,000 tasks is tens of megabytes.
    return new ControlClient(target, channelCredentials, { ...options, 'grpc.max_receive_message_length': -1 });
  }

  close(): void {
    for (const client of this.clients) client?.close();
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

  async createNetwork(spec: NetworkSpec): Promise<Network> {
    return required((await this.call(this.client.createNetwork, { spec })).network, 'network');
  }

  /** By full id, unique id prefix or name. */
  async getNetwork(id: string): Promise<Network> {
    return required((await this.call(this.client.getNetwork, { id })).network, 'network');
  }

  async listNetworks(request: Partial<ListNetworksRequest> = {}): Promise<Network[]> {
    return (await this.call(this.client.listNetworks, { names: [], ...request })).networks;
  }

  async removeNetwork(id: string): Promise<void> {
    await this.call(this.client.removeNetwork, { id });
  }

  /** The role's join token (rotated first if asked) and the managers' addresses. */
  getJoinToken(role: NodeRole, rotate: boolean): Promise<GetJoinTokenResponse> {
    return this.call(this.client.getJoinToken, { role, rotate });
  }

  /**
   * Control.SubscribeLogs on the current host, a stream with no deadline (it may follow for hours):
   * `onMessage` gets each message in order; `done` resolves when the manager ends the stream or
   * after `cancel()`, and rejects with an ApiError if the call fails.
   */
  subscribeLogs(request: SubscribeLogsRequest, onMessage: (message: SubscribeLogsMessage) => void): { done: Promise<void>; cancel(): void } {
    const call = this.client.subscribeLogs(request);
    let cancelled = false;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', onMessage);
      call.on('end', () => resolve());
      call.on('error', (error: ServiceError) => (cancelled && error.code === status.CANCELLED ? resolve() : reject(this.explain(error))));
    });
    return {
      done,
      cancel: () => {
        cancelled = true;
        call.cancel();
      },
    };
  }

  /**
   * Calls the current host; when it cannot be reached at all (so the call never arrived), moves on
   * to the next host of the list and calls again. Every other failure is final.
   */
  private async call<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
    const unreachable: ApiError[] = [];
    for (;;) {
      try {
        return await this.callCurrent(method, request);
      } catch (error) {
        if (!(error instanceof ApiError) || !error.unreachable) throw error;
        unreachable.push(error);
        if (unreachable.length === this.hosts.length) throw noneReachable(unreachable);
        this.current = (this.current + 1) % this.hosts.length;
      }
    }
  }

  private callCurrent<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
    const client = this.client;
    return new Promise((resolve, reject) => {
      method.call(client, request, new Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) => {
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
        return new ApiError(`cannot reach the manager at ${this.host}: ${connectionProblem(error.details)}`, error.code, neverConnected(error.details));
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

function noneReachable(errors: ApiError[]): ApiError {
  if (errors.length === 1) return errors[0]!;
  const reasons = errors.map((e) => e.message.replace(/^cannot reach the manager at /, ''));
  return new ApiError(`cannot reach any manager: ${reasons.join('; ')}`, status.UNAVAILABLE, true);
}

/**
 * The connection was never made (as opposed to dropped part-way through a call, after which the
 * call may have been carried out): only then is calling another manager safe.
 */
function neverConnected(details: string): boolean {
  return details === '' || /No connection established|failed to connect/i.test(details);
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
