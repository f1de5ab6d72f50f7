/**
 * Fakes of the kernel-facing network modules for the NetworkAgent's unit tests: a data plane that
 * keeps its networks and peers in memory, a routing mesh and a VIP programmer that record what
 * they were asked. `hold` makes the data plane's next ensureNetwork wait until released.
 */
import type { IngressPort } from '../../../network/lb/ingress-rules.js';
import type { VipService } from '../../../network/lb/vip.js';
import type { OverlayNetworkConfig } from '../../../network/overlay/data-plane.js';
import type { EndpointSpec } from '../../../network/overlay/endpoint.js';
import type { EndpointKey } from '../../../network/overlay/names.js';
import type { Peer } from '../../../network/overlay/peers.js';
import type { DataPlane, Mesh, NetworkBackends } from '../network-agent.js';

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
  constructor(readonly sandbox: string) {}

  async ensureSandbox(): Promise<void> {
    this.calls.push('ensureSandbox');
  }

  async setPorts(ingress: readonly IngressPort[]): Promise<void> {
    this.calls.push('setPorts');
    this.ports = [...ingress];
  }

  async remove(): Promise<void> {
    this.calls.push('remove');
    this.ports = undefined;
  }
}

export interface FakeBackends extends NetworkBackends {
  plane: FakeDataPlane;
  mesh: FakeMesh | undefined;
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
    vips: new Map(),
    underlays: [],
    dataPlane: (options) => {
      backends.underlays.push(options.underlayAddress);
      return plane;
    },
    routingMesh: (options) => (backends.mesh = new FakeMesh(options.sandbox)),
    programVips: async (netns, services) => {
      backends.vips.set(netns, [...services]);
      return true;
    },
  };
  return backends;
}
