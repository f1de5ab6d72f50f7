/** The few Control calls the benchmark makes, as promises, over a manager's unix socket. */
import { credentials } from '@grpc/grpc-js';
import {
  ControlClient,
  type GetClusterResponse,
  type GetJoinTokenResponse,
  type ListNodesResponse,
  type ListServicesResponse,
  type ListTasksRequest,
  type ListTasksResponse,
  type ServiceResponse,
} from '../../proto/gen/control.js';
import { NodeRole, type ServiceSpec } from '../../proto/gen/objects.js';

type Callback<T> = (err: Error | null, value: T) => void;

function call<T>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

export class Control {
  private readonly client: ControlClient;

  constructor(socket: string) {
    // A 100,000-task listing is tens of MiB.
    this.client = new ControlClient(`unix:${socket}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  }

  getCluster(): Promise<GetClusterResponse> {
    return call((cb) => this.client.getCluster({}, cb));
  }

  workerJoinToken(): Promise<string> {
    return call<GetJoinTokenResponse>((cb) => this.client.getJoinToken({ role: NodeRole.NODE_ROLE_WORKER, rotate: false }, cb)).then((r) => r.token);
  }

  listNodes(): Promise<ListNodesResponse> {
    return call((cb) => this.client.listNodes({}, cb));
  }

  createService(spec: ServiceSpec): Promise<ServiceResponse> {
    return call((cb) => this.client.createService({ spec }, cb));
  }

  listServices(): Promise<ListServicesResponse> {
    return call((cb) => this.client.listServices({ names: [], labels: {} }, cb));
  }

  listTasks(request: Partial<ListTasksRequest>): Promise<ListTasksResponse> {
    return call((cb) => this.client.listTasks({ serviceIds: [], nodeIds: [], desiredStates: [], ...request }, cb));
  }

  close(): void {
    this.client.close();
  }
}
