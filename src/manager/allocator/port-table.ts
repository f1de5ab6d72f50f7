/**
 * The ingress published ports of the cluster: each (protocol, port) belongs to at most one service,
 * since every node answers on every ingress port. Ports the user leaves at 0 come from the dynamic
 * range 30000-32767 (Docker Swarm's), per protocol; explicit ports may be anywhere in 1-65535.
 * Owners are kept so that a conflict can name the service in the way.
 */
import { PortProtocol } from '../../../proto/gen/objects.js';
import { RangeAllocator } from './range-allocator.js';

export const DYNAMIC_PORT_MIN = 30000;
export const DYNAMIC_PORT_MAX = 32767;

export class PortTable {
  private readonly owners = new Map<string, string>();
  private readonly dynamic = new Map<PortProtocol, RangeAllocator>();

  /** Takes `port` for `owner`; returns the id of the service already holding it, else undefined. */
  claim(protocol: PortProtocol, port: number, owner: string): string | undefined {
    const key = portKey(protocol, port);
    const holder = this.owners.get(key);
    if (holder !== undefined) return holder === owner ? undefined : holder;
    this.owners.set(key, owner);
    this.range(protocol).reserve(port);
    return undefined;
  }

  /** A free port of the dynamic range for `owner`, or undefined when all are taken. */
  allocate(protocol: PortProtocol, owner: string): number | undefined {
    const port = this.range(protocol).allocate();
    if (port !== undefined) this.owners.set(portKey(protocol, port), owner);
    return port;
  }

  /** Frees `port` if `owner` holds it (a stale release must not free another service's port). */
  release(protocol: PortProtocol, port: number, owner: string): void {
    const key = portKey(protocol, port);
    if (this.owners.get(key) !== owner) return;
    this.owners.delete(key);
    this.range(protocol).release(port);
  }

  ownerOf(protocol: PortProtocol, port: number): string | undefined {
    return this.owners.get(portKey(protocol, port));
  }

  private range(protocol: PortProtocol): RangeAllocator {
    let range = this.dynamic.get(protocol);
    if (range === undefined) this.dynamic.set(protocol, (range = new RangeAllocator(DYNAMIC_PORT_MIN, DYNAMIC_PORT_MAX)));
    return range;
  }
}

function portKey(protocol: PortProtocol, port: number): string {
  return `${protocol}/${port}`;
}
