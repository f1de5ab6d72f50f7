/**
 * Host-mode published ports, as the scheduler handles them: only the node a task runs on answers
 * on its port, so two tasks holding one port cannot share a node (the host-port filter), and a
 * port published as 0 is picked by the scheduler on the node it chooses, from Docker's range for
 * ports left to the engine (Linux's default ephemeral range), which never meets the ingress range
 * 30000-32767. The chosen port is written into the task's endpoint, where the worker, `service
 * ps` and `task inspect` read it; the task's endpoint spec keeps the 0 it was asked with.
 */
import { PublishMode, type Endpoint, type PortConfig, type Task } from '../../proto/gen/objects.js';
import type { NodeInfo } from './node-info.js';

export const DYNAMIC_HOST_PORTS = { first: 32768, last: 60999 } as const;

function isHostMode(port: PortConfig): boolean {
  return port.publishMode === PublishMode.PUBLISH_MODE_HOST;
}

function hostPortKey(protocol: number, port: number): string {
  return `${protocol}/${port}`;
}

/** The host-mode ports a task holds on its node, as `<protocol>/<port>` keys. */
export function taskHostPorts(task: Task): string[] {
  return (task.endpoint?.ports ?? []).filter((p) => isHostMode(p) && p.publishedPort > 0).map((p) => hostPortKey(p.protocol, p.publishedPort));
}

/** Whether the task publishes host-mode ports as 0, for the scheduler to pick. */
export function hasDynamicHostPorts(task: Task): boolean {
  return (task.endpoint?.ports ?? []).some((p) => isHostMode(p) && p.publishedPort === 0);
}

/**
 * The task's endpoint with each host-mode port published as 0 given the lowest port of the range
 * free on the node; undefined when the node has too few left (the filter keeps such nodes out).
 */
export function withDynamicHostPorts(endpoint: Endpoint, node: NodeInfo): Endpoint | undefined {
  const taken = new Set<string>();
  const ports: PortConfig[] = [];
  for (const port of endpoint.ports) {
    if (!isHostMode(port) || port.publishedPort !== 0) {
      ports.push(port);
      continue;
    }
    const free = lowestFree(node, port.protocol, taken);
    if (free === undefined) return undefined;
    taken.add(hostPortKey(port.protocol, free));
    ports.push({ ...port, publishedPort: free });
  }
  return { ...endpoint, ports };
}

function lowestFree(node: NodeInfo, protocol: number, taken: ReadonlySet<string>): number | undefined {
  for (let port = DYNAMIC_HOST_PORTS.first; port <= DYNAMIC_HOST_PORTS.last; port++) {
    const key = hostPortKey(protocol, port);
    if (!taken.has(key) && !node.hostPortInUse(key)) return port;
  }
  return undefined;
}
