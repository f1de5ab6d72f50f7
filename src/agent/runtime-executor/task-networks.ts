/**
 * A task's networks as its container needs them: its overlay addresses, its host-mode ports, and
 * DNS through the agent's resolver (the supervisor's relay on 127.0.0.11, `org.shoal.dns.relay`)
 * with a read-only /etc/resolv.conf that points there, bound from the task's directory. Every
 * container the agent networks gets the DNS, on overlay networks or not: the resolver answers the
 * cluster's names and forwards the rest. `ndots:0` makes a bare service name (`web`) a single
 * query instead of a walk through search domains.
 */
import { PortProtocol, PublishMode, type Task } from '../../../proto/gen/objects.js';
import type { ContainerSpec } from '../../runtime/container/index.js';
import type { ContainerAddress, HostPortSpec } from '../network/container-networking.js';

export const RESOLV_CONF = 'nameserver 127.0.0.11\noptions ndots:0\n';
export const RESOLV_CONF_FILE = 'resolv.conf';

/** Task.networks in order (the first is eth0). */
export function taskAddresses(task: Task): ContainerAddress[] {
  return task.networks.map((n) => ({ networkId: n.networkId, address: n.address }));
}

/**
 * The task's host-mode ports, as the scheduler filled them in for this node (a port published as
 * 0 has been given one by then; one still 0 is not published).
 */
export function taskHostPorts(task: Task): HostPortSpec[] {
  return (task.endpoint?.ports ?? [])
    .filter((p) => p.publishMode === PublishMode.PUBLISH_MODE_HOST && p.publishedPort > 0)
    .map((p) => ({ protocol: p.protocol === PortProtocol.PORT_PROTOCOL_UDP ? 'udp' : 'tcp', published: p.publishedPort, target: p.targetPort }));
}

/** The container spec with the DNS relay and the bound resolv.conf. */
export function withTaskDns(spec: ContainerSpec, dnsSocket: string, resolvConfPath: string): ContainerSpec {
  return {
    ...spec,
    dnsRelay: dnsSocket,
    mounts: [...(spec.mounts ?? []), { source: resolvConfPath, destination: '/etc/resolv.conf', readOnly: true }],
  };
}
