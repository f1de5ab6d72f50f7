/**
 * Fakes of the kernel-facing network modules for the NetworkAgent's unit tests: a data plane that
 * keeps its networks and peers in memory, a gateway bridge that hands out addresses in memory, a
 * routing mesh and a VIP programmer that record what they were asked. `hold` makes the data plane's next ensureNetwork wait until released.
 */
import type { Attachment, AttachmentKey } from '../../../network/gateway/gateway-bridge.js';
import type { HostPort, IngressPort } from '../../../network/lb/ingress-rules.js';
import type { VipService } from '../../../network/lb/vip.js';
import type { OverlayNetworkConfig } from '../../../network/overlay/data-plane.js';
import type { EndpointSpec } from '../../../network/overlay/endpoint.js';
import type { EndpointKey } from '../../../network/overlay/names.js';
import type { Peer } from '../../../network/overlay/peers.js';
import type { DataPlane, Gateway, Mesh, NetworkBackends } from '../network-agent.js';

export class FakeDataPlane implements DataPlane {
  readonly networks = new Map<string, OverlayNetworkConfig>();
  readonly peers = new Map<string, Peer[]>();
  readonly attached: { networkId: string; endpoint: EndpointSpec }[] = [];
  readonly detached: { networkId: string; key: EndpointKey }[] = [];
  readonly calls: string[] = [];
  /** Throws from the next ensureNetwork calls while above 0. */
  failEnsures = 0;
  private heldGate: Promise<void> | undefined;
  private reachedHeld: (() => void) | undefined;

  /** The next ensureNetwork waits for the returned release; `reached` resolves once it waits. */
  hold(): { release: () => void; reached: Promise<void> } {
    let release!: () => void;
    this.heldGate = new Promise((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (this.reachedHeld = resolve));
    return { release, reached };
  }

  async ensureNetwork(net: OverlayNetworkConfig): Promise<void> {
    this.calls.push(`ensure ${net.id}`);
    if (this.heldGate) {
      const gate = this.heldGate;
      this.heldGate = undefined;
      this.reachedHeld?.();
      await gate;
    }
    if (this.failEnsures > 0) {
      this.failEnsures--;
      throw new Error('fake ensure failure');
    }
    this.networks.set(net.id, net);
  }

  async setPeers(networkId: string, peers: readonly Peer[]): Promise<void> {
    this.calls.push(`peers ${networkId}`);
    if (!this.networks.has(networkId)) throw new Error(`network ${networkId} has no sandbox`);
    this.peers.set(networkId, [...peers]);
  }

  async attach(networkId: string, endpoint: EndpointSpec): Promise<void> {
    this.calls.push(`attach ${networkId} ${endpoint.containerNetns} ${endpoint.ifname}`);
    if (!this.networks.has(networkId)) throw new Error(`network ${networkId} has no sandbox`);
    this.attached.push({ networkId, endpoint });
  }

  async detach(networkId: string, key: EndpointKey): Promise<void> {
    this.calls.push(`detach ${networkId} ${key.containerNetns} ${key.ifname}`);
    this.detached.push({ networkId, key });
  }

  async reconcileNetworks(wantedIds: readonly string[]): Promise<string[]> {
    this.calls.push(`reconcile ${[...wantedIds].join(',')}`);
    const removed = [...this.networks.keys()].filter((id) => !wantedIds.includes(id));
    for (const id of removed) {
      this.networks.delete(id);
      this.peers.delete(id);
    }
    return removed;
  }
}

export class FakeMesh implements Mesh {
  readonly calls: string[] = [];
  ports: IngressPort[] | undefined;
  hostPorts: HostPort[] | undefined;
  constructor(readonly sandbox: string) {}

  async ensureSandbox(): Promise<void> {
    this.calls.push('ensureSandbox');
  }

  async setPorts(ingress: readonly IngressPort[], host: readonly HostPort[]): Promise<void> {
    this.calls.push('setPorts');
    this.ports = [...ingress];
    this.hostPorts = [...host];
  }

  async removeSandbox(): Promise<void> {
    this.calls.push('removeSandbox');
  }

  async removePorts(): Promise<void> {
    this.calls.push('removePorts');
    this.ports = undefined;
    this.hostPorts = undefined;
  }

  async remove(): Promise<void> {
    this.calls.push('remove');
    this.ports = undefined;
    this.hostPorts = undefined;
  }
}

/** Addresses 172.30.0.2 up, the lowest free first, as the real bridge picks them. */
export class FakeGateway implements Gateway {
  readonly calls: string[] = [];
  readonly attachments = new Map<string, Attachment>();

  async ensure(): Promise<void> {
    this.calls.push('ensure');
  }

  async attach(key: AttachmentKey): Promise<string> {
    this.calls.push(`attach ${key.key} ${key.ifname}`);
    const held = this.attachments.get(key.key);
    if (held) return held.address;
    const taken = new Set([...this.attachments.values()].map((a) => a.address));
    let host = 2;
    while (taken.has(`172.30.0.${host}`)) host++;
    this.attachments.set(key.key, { ...key, address: `172.30.0.${host}` });
    return `172.30.0.${host}`;
  }

  async detach(key: string): Promise<void> {
    this.calls.push(`detach ${key}`);
    this.attachments.delete(key);
  }

  async list(): Promise<Attachment[]> {
    return [...this.attachments.values()];
  }

  async remove(): Promise<void> {
    this.calls.push('remove');
    this.attachments.clear();
  }
}

export interface FakeBackends extends NetworkBackends {
  plane: FakeDataPlane;
  mesh: FakeMesh | undefined;
  /** Shared by every agent made with these backends, as a kernel would be. */
  gatewayBridge: FakeGateway;
  /** Namespace → the VIPs last programmed there. */
  vips: Map<string, VipService[]>;
  /** Underlay addresses data planes were made for. */
  underlays: string[];
}

/** One data plane shared by every underlay address, so a test sees one kernel. */
export function fakeBackends(plane = new FakeDataPlane()): FakeBackends {
  const backends: FakeBackends = {
    plane,
    mesh: undefined,
    gatewayBridge: new FakeGateway(),
    vips: new Map(),
    underlays: [],
    dataPlane: (options) => {
      backends.underlays.push(options.underlayAddress);
      return plane;
    },
    routingMesh: (options) => (backends.mesh = new FakeMesh(options.sandbox)),
    gateway: () => backends.gatewayBridge,
    programVips: async (netns, services) => {
      backends.vips.set(netns, [...services]);
      return true;
    },
  };
  return backends;
}
