/**
 * Endpoint spec rules, as docker has them: ports 1-65535 (a published port of 0 asks for one: from
 * 30000-32767 by the allocator in ingress mode, from 32768-60999 on the task's node by the
 * scheduler in host mode), no published port twice for one protocol, and no
 * ingress-published ports in dnsrr mode (the routing mesh balances over a VIP).
 */
import { EndpointMode, PortProtocol, PublishMode, type EndpointSpec } from '../../../proto/gen/objects.js';
import { InvalidSpecError } from './invalid-spec-error.js';
import { checkEnum } from './spec-checks.js';

const MAX_PORT = 65535;

export function checkEndpointSpec(endpoint: EndpointSpec): void {
  checkEnum('endpoint.mode', EndpointMode, endpoint.mode);
  const seen = new Set<string>();
  endpoint.ports.forEach((port, i) => {
    const field = `endpoint.ports[${i}]`;
    checkEnum(`${field}.protocol`, PortProtocol, port.protocol);
    checkEnum(`${field}.publishMode`, PublishMode, port.publishMode);
    if (port.targetPort < 1 || port.targetPort > MAX_PORT) throw new InvalidSpecError(`${field}.targetPort`, `${port.targetPort}: must be 1-${MAX_PORT}`);
    if (port.publishedPort > MAX_PORT) throw new InvalidSpecError(`${field}.publishedPort`, `${port.publishedPort}: must be 1-${MAX_PORT}, or 0 for any`);
    const ingress = port.publishMode === PublishMode.PUBLISH_MODE_INGRESS;
    if (ingress && endpoint.mode === EndpointMode.ENDPOINT_MODE_DNSRR) {
      throw new InvalidSpecError(`${field}.publishMode`, 'ingress ports cannot be published in dnsrr mode; use mode=host or the vip endpoint mode');
    }
    if (port.publishedPort === 0) return;
    const key = `${port.publishedPort}/${port.protocol === PortProtocol.PORT_PROTOCOL_UDP ? 'udp' : 'tcp'}`;
    if (seen.has(key)) throw new InvalidSpecError(`${field}.publishedPort`, `${key} is published twice`);
    seen.add(key);
  });
}
