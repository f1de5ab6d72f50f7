/**
 * The agent's networking (issue 7): turns each NetworkState the managers send into this node's
 * overlay data plane, DNS view, containers' VIP tables and routing mesh, and puts the runtime
 * executor's containers on their networks (`ContainerNetworking`).
 *
 * - States are applied one at a time, the newest winning (`LatestRunner`); one that fails is tried
 *   again after `retryMs` unless a newer one has come.
 * - Networks: every sandbox of this node's prefix that the state does not want is removed
 *   (`reconcileNetworks`, which after a restart keeps the wanted ones as they are, endpoints of
 *   running containers included), then each wanted network is ensured and given its remote peers.
 *   A container waits for its networks to be ensured before it is attached (`connect`).
 * - DNS: one `DnsResolver` on `<state dir>/dns.sock`, its view rebuilt from the state's services
 *   and the containers on this node (those connected, or adopted after a restart).
 * - VIPs: each container's `shoal_lb` table from the services on its networks, rewritten when a
 *   state changes them and when it connects; calls about one container never overlap.
 * - Only what a state changes is applied (`AppliedRecord`): a sandbox, a peer table, a VIP table or
 *   the mesh equal to what was last applied is left alone, so a state costs what changed. The
 *   kernel is read back in full by a new agent (after a restart) and after a failure.
 *   Until the first state after a restart, a running container's table is left as it is.
 * - Ingress: with ingress-mode ports, the routing mesh's sandbox on the ingress overlay with this
 *   node's ingress address, and the ports; without, the mesh is removed. Host-mode ports need a
 *   route from the node to its tasks that does not exist yet: they are skipped (logged once).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkState } from '../../../proto/gen/dispatcher.js';
import { systemClock, type Clock, type TimerHandle } from '../../common/clock.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { ServiceDiscovery } from '../../network/dns/discovery.js';
import { DnsResolver } from '../../network/dns/resolver.js';
import { RoutingMesh, type RoutingMeshOptions } from '../../network/lb/ingress.js';
import { programVips, type VipService } from '../../network/lb/vip.js';
import { OverlayDataPlane, type OverlayDataPlaneOptions } from '../../network/overlay/data-plane.js';
import { KeyedQueue } from '../../network/overlay/keyed-queue.js';
import type { ContainerNetworking, NetworkedContainer } from './container-networking.js';
import { AppliedRecord } from './applied.js';
import { LatestRunner } from './latest-runner.js';
import { bareAddress, containerVips, discoveryView, ingressPlan, wantedNetworks, type IngressPlan } from './state-view.js';

/** What the agent uses of the data plane and the routing mesh: the real ones, or tests' fakes. */
export type DataPlane = Pick<OverlayDataPlane, 'ensureNetwork' | 'setPeers' | 'attach' | 'detach' | 'reconcileNetworks'>;
export type Mesh = Pick<RoutingMesh, 'sandbox' | 'ensureSandbox' | 'setPorts' | 'remove'>;

export interface NetworkBackends {
  dataPlane(options: OverlayDataPlaneOptions): DataPlane;
  routingMesh(options: RoutingMeshOptions): Mesh;
  programVips(netns: string, services: readonly VipService[]): Promise<unknown>;
}

export const kernelBackends: NetworkBackends = {
  dataPlane: (options) => new OverlayDataPlane(options),
  routingMesh: (options) => new RoutingMesh(options),
  programVips,
};

export interface NetworkAgentOptions {
  /** Names this node's sandboxes: `shoal-<first 8 of the node id>` unless `prefix` is given. */
  nodeId: string;
  /** The resolver's socket is `<stateDir>/dns.sock`. */
  stateDir: string;
  /** Unique per node sharing a kernel (tests, a local cluster); default from the node id. */
  prefix?: string;
  /** The namespace holding the node's underlay address and published ports; this process's own when absent. */
  nodeNetns?: string;
  /** How long a container waits for its networks before its task fails. Default 30 s. */
  networkWaitMs?: number;
  /** Before a failed state is applied again. Default 1 s. */
  retryMs?: number;
  backends?: NetworkBackends;
  clock?: Clock;
  logger?: Logger;
}

export const DNS_SOCKET = 'dns.sock';
const DEFAULT_NETWORK_WAIT_MS = 30_000;
const DEFAULT_RETRY_MS = 1_000;

interface Waiter {
  ids: readonly string[];
  resolve: () => void;
}

export class NetworkAgent implements ContainerNetworking {
  readonly discovery = new ServiceDiscovery();
  readonly prefix: string;
  private readonly backends: NetworkBackends;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly runner: LatestRunner<NetworkState>;
  private readonly vipQueue = new KeyedQueue();
  private readonly containers = new Map<string, NetworkedContainer>();
  /** Networks the last applied state ensured: containers may be attached to them. */
  private readonly ready = new Set<string>();
  /** What was last applied, so that a state rewrites only what it changes. */
  private readonly lastApplied = new AppliedRecord();
  private readonly waiters = new Set<Waiter>();
  private resolver: DnsResolver | undefined;
  private plane: { underlay: string; plane: DataPlane } | undefined;
  private mesh: Mesh | undefined;
  /** Whether the mesh may exist (unknown until the first state: a previous agent's may). */
  private meshMayExist = true;
  private applied: NetworkState | undefined;
  private latest: NetworkState | undefined;
  private retry: TimerHandle | undefined;
  private hostPortsLogged = false;
  private closed = false;

  private constructor(private readonly opts: NetworkAgentOptions) {
    this.prefix = opts.prefix ?? `shoal-${opts.nodeId.slice(0, 8)}`;
    this.backends = opts.backends ?? kernelBackends;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.runner = new LatestRunner(
      (state) => this.applyState(state),
      (err, state) => this.failed(err, state),
    );
  }

  /** Starts the resolver; networks wait for the first state. */
  static async start(opts: NetworkAgentOptions): Promise<NetworkAgent> {
    const agent = new NetworkAgent(opts);
    await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    agent.resolver = await DnsResolver.listen({ path: join(opts.stateDir, DNS_SOCKET), discovery: agent.discovery, logger: agent.logger });
    return agent;
  }

  get dnsSocket(): string {
    return join(this.opts.stateDir, DNS_SOCKET);
  }

  /** The managers' newest NetworkState for this node. */
  apply(state: NetworkState): void {
    if (this.closed) return;
    if (state.underlayAddress === '') {
      // Nothing can be built without it; the managers send a new state once they know it.
      this.logger.warn('network: the network state names no underlay address for this node; ignored');
      return;
    }
    this.latest = state;
    this.runner.push(state);
  }

  /** Resolves once every state given so far has been applied (or has failed). */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  async connect(container: NetworkedContainer): Promise<void> {
    await this.networksReady(container.networks.map((n) => n.networkId));
    const plane = this.plane!.plane;
    for (const [i, n] of container.networks.entries()) {
      await plane.attach(n.networkId, { containerNetns: container.netns, ifname: `eth${i}`, address: bareAddress(n.address), defaultRoute: i === 0 });
    }
    this.containers.set(container.taskId, container);
    this.refreshDiscovery();
    await this.programContainerVips(container.taskId);
  }

  adopt(container: NetworkedContainer): void {
    const known = this.containers.get(container.taskId);
    this.containers.set(container.taskId, container);
    if (known?.netns === container.netns) return;
    this.refreshDiscovery();
    this.programContainerVips(container.taskId).catch((err: unknown) => this.logger.warn({ err, taskId: container.taskId }, 'network: could not program the VIPs of an adopted container'));
  }

  async disconnect(container: NetworkedContainer): Promise<void> {
    this.containers.delete(container.taskId);
    this.lastApplied.forget(`vips ${container.taskId}`);
    this.refreshDiscovery();
    // Without a data plane yet (no state since a restart) there is nothing to ask; the endpoint's
    // veth goes with the container's namespace anyway.
    const plane = this.plane?.plane;
    if (!plane) return;
    for (const [i, n] of container.networks.entries()) {
      await plane.detach(n.networkId, { containerNetns: container.netns, ifname: `eth${i}` });
    }
  }

  /** The node left the cluster: every sandbox of this node and the routing mesh go. */
  async removeAll(): Promise<void> {
    this.closed = true;
    this.retry?.cancel();
    await this.runner.idle();
    this.ready.clear();
    await this.plane?.plane.reconcileNetworks([]);
    await this.meshFor().remove();
  }

  /** Stops the resolver (relays answer SERVFAIL until a new agent listens); networks stay as they are. */
  async close(): Promise<void> {
    this.closed = true;
    this.retry?.cancel();
    await this.runner.idle();
    for (const waiter of [...this.waiters]) waiter.resolve();
    await this.resolver?.close();
  }

  private async applyState(state: NetworkState): Promise<void> {
    const plane = this.planeFor(state.underlayAddress);
    const wanted = wantedNetworks(state);
    const ids = new Set(wanted.map((n) => n.config.id));
    for (const id of this.ready) if (!ids.has(id)) this.ready.delete(id);
    // A network no longer wanted has its sandbox removed below: if it comes back, it is built anew.
    this.lastApplied.forgetWhere((key) => /^(network|peers) /.test(key) && !ids.has(key.split(' ')[1]!));
    await this.lastApplied.apply(`underlay ${state.underlayAddress}: networks`, [...ids].sort(), async () => {
      const removed = await plane.reconcileNetworks([...ids]);
      if (removed.length > 0) this.logger.info({ removed }, 'network: removed sandboxes no longer wanted');
    });
    const results = await Promise.allSettled(
      wanted.map(async (n) => {
        await this.lastApplied.apply(`network ${n.config.id}`, [state.underlayAddress, n.config], () => plane.ensureNetwork(n.config));
        await this.lastApplied.apply(`peers ${n.config.id}`, [state.underlayAddress, n.peers], () => plane.setPeers(n.config.id, n.peers));
        this.ready.add(n.config.id);
      }),
    );
    this.applied = state;
    this.wakeWaiters();
    this.refreshDiscovery();
    const vips = await Promise.allSettled([...this.containers.keys()].map((taskId) => this.programContainerVips(taskId)));
    vips.forEach((r) => r.status === 'rejected' && this.logger.warn({ err: r.reason as unknown }, 'network: could not program a container’s VIPs'));
    await this.applyIngress(plane, ingressPlan(state));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`network ${wanted[i]!.config.id}: ${messageOf(r.reason)}`] : []));
    if (failures.length > 0) throw new Error(failures.join('; '));
  }

  private async applyIngress(plane: DataPlane, plan: IngressPlan | undefined): Promise<void> {
    if (plan && plan.hostPorts > 0 && !this.hostPortsLogged) {
      this.hostPortsLogged = true;
      this.logger.warn({ ports: plan.hostPorts }, 'network: host-mode published ports are not supported yet (no route from the node to its containers); skipped');
    }
    const mesh = this.meshFor();
    if (plan && plan.ports.length > 0 && plan.nodeAddress !== undefined && this.ready.has(plan.networkId)) {
      this.meshMayExist = true;
      await this.lastApplied.apply('routing mesh', plan, async () => {
        await mesh.ensureSandbox();
        await plane.attach(plan.networkId, { containerNetns: mesh.sandbox, ifname: 'eth0', address: plan.nodeAddress!, defaultRoute: false });
        await mesh.setPorts(plan.ports, []);
      });
    } else if (this.meshMayExist) {
      await mesh.remove();
      this.lastApplied.forget('routing mesh');
      this.meshMayExist = false;
    }
  }

  /** The data plane for this underlay address (a new one if the address changed: ensure repairs the VXLAN devices). */
  private planeFor(underlay: string): DataPlane {
    if (this.plane?.underlay !== underlay) {
      this.plane = { underlay, plane: this.backends.dataPlane({ prefix: this.prefix, underlayAddress: underlay, underlayNetns: this.opts.nodeNetns }) };
    }
    return this.plane.plane;
  }

  private meshFor(): Mesh {
    this.mesh ??= this.backends.routingMesh({ sandbox: `${this.prefix}-ingress-sbox`, nodeNetns: this.opts.nodeNetns });
    return this.mesh;
  }

  private programContainerVips(taskId: string): Promise<void> {
    return this.vipQueue.run(taskId, async () => {
      const container = this.containers.get(taskId);
      const state = this.applied;
      if (!container || !state) return;
      const vips = containerVips(state, container.networks.map((n) => n.networkId));
      await this.lastApplied.apply(`vips ${taskId}`, [container.netns, vips], () => this.backends.programVips(container.netns, vips));
    });
  }

  private refreshDiscovery(): void {
    if (!this.applied) {
      // No services known yet: containers are still answered (NXDOMAIN/REFUSED) rather than left unknown.
      this.discovery.update({ networks: new Map(), containers: new Map([...this.containers].map(([id, c]) => [id, c.networks.map((n) => n.networkId)])) });
      return;
    }
    try {
      this.discovery.update(discoveryView(this.applied, this.containers.values()));
    } catch (err) {
      this.logger.warn({ err }, 'network: the DNS view could not be built; the previous one stays');
    }
  }

  private networksReady(ids: readonly string[]): Promise<void> {
    if (ids.every((id) => this.ready.has(id))) return Promise.resolve();
    const waitMs = this.opts.networkWaitMs ?? DEFAULT_NETWORK_WAIT_MS;
    return new Promise((resolve, reject) => {
      const missing = (): string => ids.filter((id) => !this.ready.has(id)).join(', ');
      const settle = (why?: string): void => {
        timer.cancel();
        this.waiters.delete(waiter);
        if (why === undefined) resolve();
        else reject(new Error(`network ${missing()} ${why}`));
      };
      const waiter: Waiter = {
        ids,
        resolve: () => settle(ids.every((id) => this.ready.has(id)) ? undefined : 'is not ready on this node (the agent is stopping)'),
      };
      const timer = this.clock.setTimer(waitMs, () =>
        settle(`not set up on this node after ${waitMs / 1000} s (the managers sent no state with it, or it failed)`),
      );
      this.waiters.add(waiter);
    });
  }

  private wakeWaiters(): void {
    for (const waiter of [...this.waiters]) if (waiter.ids.every((id) => this.ready.has(id))) waiter.resolve();
  }

  private failed(err: unknown, state: NetworkState): void {
    this.logger.warn({ err }, 'network: could not apply the network state; will retry');
    this.retry?.cancel();
    this.retry = this.clock.setTimer(this.opts.retryMs ?? DEFAULT_RETRY_MS, () => {
      if (!this.closed && this.latest === state) this.runner.push(state);
    });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
