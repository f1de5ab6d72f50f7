/**
 * A service's endpoint for its current spec: published ports (explicit ones claimed, 0 given the
 * next free port of 30000-32767) and, in VIP mode, a VIP on each of its networks and on the
 * ingress network when it publishes ingress ports. What the current endpoint already holds is
 * kept (same ports, same VIPs), so an update does not move a service's address or port. What the
 * new endpoint drops is released once the change is committed (releases.ts); `undo` frees what
 * this call took, for a write that did not happen.
 */
import {
  EndpointMode,
  EndpointSpec,
  PortProtocol,
  PublishMode,
  type Endpoint,
  type PortConfig,
  type Service,
  type ServiceSpec,
  type VirtualIP,
} from '../../../proto/gen/objects.js';
import { AllocationError } from './allocation-error.js';
import type { AllocatorState } from './allocator-state.js';
import { publishesIngress } from './needs-allocation.js';

export interface EndpointRequest {
  serviceId: string;
  /** Validated, with network targets resolved to ids. */
  spec: ServiceSpec;
  /** What the service holds now (an update), if anything. */
  current: Endpoint | undefined;
  ingressNetworkId: string | undefined;
  /** A service's name for error messages. */
  nameOf: (serviceId: string) => string;
}

export interface EndpointAllocation {
  endpoint: Endpoint | undefined;
  undo: () => void;
}

export function allocateEndpoint(state: AllocatorState, req: EndpointRequest): EndpointAllocation {
  const taken: (() => void)[] = [];
  const undo = () => {
    for (const release of taken.reverse()) release();
  };
  try {
    const endpointSpec = req.spec.endpoint ?? EndpointSpec.fromPartial({});
    const ports = endpointSpec.ports.map((port) => publish(state, req, port, taken));
    const virtualIps = vips(state, req, taken);
    const nothing = req.spec.endpoint === undefined && virtualIps.length === 0;
    return { endpoint: nothing ? undefined : { spec: endpointSpec, ports, virtualIps }, undo };
  } catch (err) {
    undo();
    throw err;
  }
}

function publish(state: AllocatorState, req: EndpointRequest, port: PortConfig, taken: (() => void)[]): PortConfig {
  if (port.publishMode !== PublishMode.PUBLISH_MODE_INGRESS) return port;
  const held = req.current?.ports ?? [];
  if (port.publishedPort === 0) {
    // An automatic port stays what it was, as long as the same target is published the same way.
    const previous = held.find((p) => p.publishMode === port.publishMode && p.protocol === port.protocol && p.targetPort === port.targetPort && p.publishedPort > 0);
    if (previous !== undefined && state.ports.ownerOf(port.protocol, previous.publishedPort) === req.serviceId) return { ...port, publishedPort: previous.publishedPort };
    const published = state.ports.allocate(port.protocol, req.serviceId);
    if (published === undefined) throw new AllocationError('exhausted', `no free port left in 30000-32767 for ${protocolName(port)}`);
    taken.push(() => state.ports.release(port.protocol, published, req.serviceId));
    return { ...port, publishedPort: published };
  }
  const alreadyOurs = state.ports.ownerOf(port.protocol, port.publishedPort) === req.serviceId;
  const holder = state.ports.claim(port.protocol, port.publishedPort, req.serviceId);
  if (holder !== undefined) {
    throw new AllocationError('conflict', `port ${port.publishedPort}/${protocolName(port)} is already published by service ${req.nameOf(holder)}`);
  }
  if (!alreadyOurs) taken.push(() => state.ports.release(port.protocol, port.publishedPort, req.serviceId));
  return port;
}

/** The networks a service in VIP mode has a VIP on. */
export function vipNetworkIds(spec: ServiceSpec | undefined, ingressNetworkId: string | undefined): string[] {
  if ((spec?.endpoint?.mode ?? EndpointMode.ENDPOINT_MODE_VIP) !== EndpointMode.ENDPOINT_MODE_VIP) return [];
  const networkIds = (spec?.task?.networks ?? []).map((n) => n.target);
  if (publishesIngress(spec) && ingressNetworkId !== undefined) networkIds.push(ingressNetworkId);
  return [...new Set(networkIds)];
}

/**
 * Whether the service's endpoint was made for its current spec. It is not after a change that
 * did not go through the control API (an automatic rollback): the allocator loop redoes it then.
 */
export function endpointFits(service: Service, ingressNetworkId: string | undefined): boolean {
  const have = service.endpoint;
  const specBytes = (spec: EndpointSpec | undefined) => Buffer.from(EndpointSpec.encode(spec ?? EndpointSpec.fromPartial({})).finish()).toString('base64');
  if (specBytes(service.spec?.endpoint) !== specBytes(have?.spec)) return false;
  const want = vipNetworkIds(service.spec, ingressNetworkId).sort();
  const held = (have?.virtualIps ?? []).map((v) => v.networkId).sort();
  return want.length === held.length && want.every((id, i) => id === held[i]);
}

function vips(state: AllocatorState, req: EndpointRequest, taken: (() => void)[]): VirtualIP[] {
  const held = req.current?.virtualIps ?? [];
  return vipNetworkIds(req.spec, req.ingressNetworkId).map((networkId) => {
    const kept = held.find((v) => v.networkId === networkId && v.address !== '');
    if (kept !== undefined) return kept;
    const address = state.allocateAddress(networkId);
    taken.push(() => state.releaseAddress(networkId, address));
    return { networkId, address };
  });
}

function protocolName(port: PortConfig): string {
  return port.protocol === PortProtocol.PORT_PROTOCOL_UDP ? 'udp' : 'tcp';
}
