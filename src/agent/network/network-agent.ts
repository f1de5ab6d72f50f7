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
 * - VIPs: each container's `shoal_lb` table from the services on its networks, rewritten when it
 *   connects and when a state changes them; calls about one container never overlap. After a state,
 *   the other containers' tables are brought up to date in the background, VIP_CONCURRENCY at a
 *   time, each from the newest state when its turn comes: while tasks start one after another,
 *   every start changes every table, and rewriting them all at once for each state would take the
 *   CPU the starting containers need (an `nft` run each, and a table is its tasks' VIPs' backends).
 * - Only what a state changes is applied (`AppliedRecord`): a sandbox, a peer table, a VIP table or
 *   the mesh equal to what was last applied is left alone, so a state costs what changed. The
 *   kernel is read back in full by a new agent (after a restart) and after a failure.
 *   Until the first state after a restart, a running container's table is left as it is.
 * - Egress: every container gets an interface on the node's gateway bridge, after its overlay
 *   ones, with the default route, as Docker's containers get docker0 or docker_gwbridge: what it
 *   opens beyond its networks leaves through the node, masqueraded.
 * - Published ports: with ingress-mode ports, the routing mesh's sandbox on the ingress overlay with
 *   this node's ingress address; without, the sandbox is removed. The node's table DNATs each
 *   host-mode port of a container here to its gateway address (replies to outside clients leave by
 *   the default route). The table holds both kinds and is removed when no port is left; it is
 *   rewritten after each state and each container with host ports that comes or goes, one
 *   rewrite at a time.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkState } from '../../../proto/gen/dispatcher.js';
import { systemClock, type Clock, type TimerHandle } from '../../common/clock.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { ServiceDiscovery } from '../../network/dns/discovery.js';
import { Upstream, type UpstreamServer } from '../../network/dns/upstream.js';
import { DnsResolver } from '../../network/dns/resolver.js';
import { GatewayBridge, type GatewayBridgeOptions } from '../../network/gateway/gateway-bridge.js';
import type { HostPort } from '../../network/lb/ingress-rules.js';
import { RoutingMesh, type RoutingMeshOptions } from '../../network/lb/ingress.js';
import { programVips, type VipService } from '../../network/lb/vip.js';
import { OverlayDataPlane, type OverlayDataPlaneOptions } from '../../network/overlay/data-plane.js';
import { KeyedQueue } from '../../network/overlay/keyed-queue.js';
import type { ContainerNetworking, NetworkedContainer } from './container-networking.js';
import { AppliedRecord } from './applied.js';
import { LatestRunner } from './latest-runner.js';
import { bareAddress, containerVips, discoveryView, ingressPlan, wantedNetworks } from './state-view.js';

/** What the agent uses of the data plane and the routing mesh: the real ones, or tests' fakes. */
export type DataPlane = Pick<OverlayDataPlane, 'ensureNetwork' | 'setPeers' | 'attach' | 'detach' | 'reconcileNetworks'>;
export type Mesh = Pick<RoutingMesh, 'sandbox' | 'ensureSandbox' | 'setPorts' | 'removeSandbox' | 'removePorts' | 'remove'>;
export type Gateway = Pick<GatewayBridge, 'ensure' | 'attach' | 'detach' | 'list' | 'remove'>;

export interface NetworkBackends {
  dataPlane(options: OverlayDataPlaneOptions): DataPlane;
  routingMesh(options: RoutingMeshOptions): Mesh;
  gateway(options: GatewayBridgeOptions): Gateway;
  programVips(netns: string, services: readonly VipService[]): Promise<unknown>;
}

export const kernelBackends: NetworkBackends = {
  dataPlane: (options) => new OverlayDataPlane(options),
  routingMesh: (options) => new RoutingMesh(options),
  gateway: (options) => new GatewayBridge(options),
  programVips,
};

export interface NetworkAgentOptions {
  /** Names this node's sandboxes: `shoal-<first 8 of the node id>` unless `prefix` is given. */
  nodeId: string;
  /** The resolver's socket is `<stateDir>/dns.sock`. */
  stateDir: string;
  /** Unique per node sharing a kernel (tests, a local cluster); default from the node id. */
  prefix?: string;
  /** The namespace holding the node's underlay address, published ports and gateway bridge; this process's own when absent. */
  nodeNetns?: string;
  /** The gateway bridge's subnet (containers with host-mode ports); its default, 172.30.0.0/16, when absent. */
  gatewaySubnet?: string;
  /**
   * The nameservers the resolver forwards names that are not the cluster's to; none (the default):
   * such names are answered REFUSED and no query leaves the node.
   */
  dnsUpstream?: readonly UpstreamServer[];
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
/** Containers' VIP tables rewritten at once after a state. */
const VIP_CONCURRENCY = 2;

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
  /** Containers whose VIP table may be behind the applied state. */
  private readonly vipsBehind = new Set<string>();
  private vipSync: Promise<void> | undefined;
  private resolver: DnsResolver | undefined;
  private plane: { underlay: string; plane: DataPlane } | undefined;
  private mesh: Mesh | undefined;
  private gateway: Gateway | undefined;
  /** Rewrites of the published ports, one at a time (states, and containers with host ports coming and going). */
  private readonly portsQueue = new KeyedQueue();
  /** Whether the ingress sandbox, and the node's table of published ports, may exist (unknown until the first state: a previous agent's may). */
  private sandboxMayExist = true;
  private portsMayExist = true;
  private applied: NetworkState | undefined;
  private latest: NetworkState | undefined;
  private retry: TimerHandle | undefined;
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
    const upstream = opts.dnsUpstream && opts.dnsUpstream.length > 0 ? new Upstream(opts.dnsUpstream) : undefined;
    const upstreamList = upstream?.servers.map((s) => `${s.address}:${s.port}`) ?? [];
    agent.logger.info({ upstream: upstreamList }, upstream ? 'dns: names outside the cluster go to the node\'s nameservers' : 'dns: names outside the cluster are refused');
    agent.resolver = await DnsResolver.listen({ path: join(opts.stateDir, DNS_SOCKET), discovery: agent.discovery, upstream, logger: agent.logger });
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

  /** Resolves once every state given so far has been applied (or has failed), containers' VIP tables included. */
  async idle(): Promise<void> {
    await this.runner.idle();
    while (this.vipSync) {
      await this.vipSync;
      await this.runner.idle();
    }
  }

  async connect(container: NetworkedContainer): Promise<void> {
    try {
      await this.attachContainer(container);
    } catch (err) {
      // The executor deletes a container it could not connect: nothing of it may stay behind,
      // such as its host ports in the node's table.
      await this.disconnect(container).catch((cleanup: unknown) => this.logger.warn({ err: cleanup, taskId: container.taskId }, 'network: could not undo a failed connect'));
      throw err;
    }
  }

  private async attachContainer(container: NetworkedContainer): Promise<void> {
    if (container.networks.length > 0) {
      await this.networksReady(container.networks.map((n) => n.networkId));
      const plane = this.plane!.plane;
      for (const [i, n] of container.networks.entries()) {
        // The gateway bridge's interface, attached last, takes the default route.
        await plane.attach(n.networkId, { containerNetns: container.netns, ifname: `eth${i}`, address: bareAddress(n.address), defaultRoute: false });
      }
    }
    const gateway = await this.ensuredGateway();
    await gateway.attach({ key: container.taskId, containerNetns: container.netns, ifname: `eth${container.networks.length}` });
    this.containers.set(container.taskId, container);
    this.refreshDiscovery();
    await this.programContainerVips(container.taskId);
    if (container.hostPorts.length > 0) await this.applyPorts();
  }

  adopt(container: NetworkedContainer): void {
    const known = this.containers.get(container.taskId);
    this.containers.set(container.taskId, container);
    if (known?.netns === container.netns) return;
    this.refreshDiscovery();
    this.programContainerVips(container.taskId).catch((err: unknown) => this.logger.warn({ err, taskId: container.taskId }, 'network: could not program the VIPs of an adopted container'));
    if (container.hostPorts.length > 0) {
      this.applyPorts().catch((err: unknown) => this.logger.warn({ err, taskId: container.taskId }, 'network: could not publish the host-mode ports of an adopted container'));
    }
  }

  async disconnect(container: NetworkedContainer): Promise<void> {
    this.containers.delete(container.taskId);
    this.lastApplied.forget(`vips ${container.taskId}`);
    this.refreshDiscovery();
    // Its ports leave the node's table before its address leaves the bridge.
    if (container.hostPorts.length > 0) await this.applyPorts();
    await this.gatewayFor().detach(container.taskId);
    // Without a data plane yet (no state since a restart) there is nothing to ask; the endpoint's
    // veth goes with the container's namespace anyway.
    const plane = this.plane?.plane;
    if (!plane) return;
    for (const [i, n] of container.networks.entries()) {
      await plane.detach(n.networkId, { containerNetns: container.netns, ifname: `eth${i}` });
    }
  }

  /** The node left the cluster: every sandbox of this node, the routing mesh and the gateway bridge go. */
  async removeAll(): Promise<void> {
    this.closed = true;
    this.retry?.cancel();
    await this.idle();
    this.ready.clear();
    await this.plane?.plane.reconcileNetworks([]);
    await this.portsQueue.run('ports', () => this.meshFor().remove());
    await this.gatewayFor().remove();
  }

  /** Stops the resolver (relays answer SERVFAIL until a new agent listens); networks stay as they are. */
  async close(): Promise<void> {
    this.closed = true;
    this.retry?.cancel();
    await this.idle();
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
    this.syncVips();
    await this.applyPorts();
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`network ${wanted[i]!.config.id}: ${messageOf(r.reason)}`] : []));
    if (failures.length > 0) throw new Error(failures.join('; '));
  }

  /**
   * Makes the node's published ports those of the applied state (ingress mode, through the mesh's
   * sandbox) and of the containers here (host mode, to their gateway addresses). Nothing before
   * the first state: a previous agent's ports stay until the managers' view is known.
   */
  private applyPorts(): Promise<void> {
    return this.portsQueue.run('ports', async () => {
      const state = this.applied;
      if (!state) return;
      const mesh = this.meshFor();
      const plan = ingressPlan(state);
      const plane = this.plane?.plane;
      const ingress = plan && plane && plan.ports.length > 0 && plan.nodeAddress !== undefined && this.ready.has(plan.networkId) ? plan : undefined;
      if (ingress) {
        this.sandboxMayExist = true;
        await this.lastApplied.apply('ingress sandbox', [ingress.networkId, ingress.nodeAddress], async () => {
          // A new sandbox has no table of its own yet.
          this.lastApplied.forget('published ports');
          await mesh.ensureSandbox();
          await plane!.attach(ingress.networkId, { containerNetns: mesh.sandbox, ifname: 'eth0', address: ingress.nodeAddress!, defaultRoute: false });
        });
      } else if (this.sandboxMayExist) {
        await mesh.removeSandbox();
        this.lastApplied.forget('ingress sandbox');
        this.sandboxMayExist = false;
      }
      const ingressPorts = ingress?.ports ?? [];
      const hostPorts = await this.hostPorts();
      if (ingressPorts.length + hostPorts.length > 0) {
        this.portsMayExist = true;
        await this.lastApplied.apply('published ports', [ingressPorts, hostPorts], () => mesh.setPorts(ingressPorts, hostPorts));
      } else if (this.portsMayExist) {
        await mesh.removePorts();
        this.lastApplied.forget('published ports');
        this.portsMayExist = false;
      }
    });
  }

  /**
   * The host-mode ports of the containers here, each to its address on the gateway bridge (as the
   * bridge knows it: attached by this agent, or found in the kernel after a restart). A port held
   * by two (a task being replaced on this node whose container is not removed yet) is the newest
   * container's.
   */
  private async hostPorts(): Promise<HostPort[]> {
    const publishing = [...this.containers.values()].filter((c) => c.hostPorts.length > 0);
    if (publishing.length === 0) return [];
    const addresses = new Map((await this.gatewayFor().list()).map((a) => [a.key, a.address]));
    const byPort = new Map<string, HostPort>();
    for (const container of publishing) {
      const address = addresses.get(container.taskId);
      if (address === undefined) continue;
      for (const port of container.hostPorts) byPort.set(`${port.protocol}/${port.published}`, { ...port, address });
    }
    return [...byPort.values()];
  }

  private async ensuredGateway(): Promise<Gateway> {
    const gateway = this.gatewayFor();
    await this.lastApplied.apply('gateway bridge', true, () => gateway.ensure());
    return gateway;
  }

  private gatewayFor(): Gateway {
    this.gateway ??= this.backends.gateway({ nodeNetns: this.opts.nodeNetns, subnet: this.opts.gatewaySubnet });
    return this.gateway;
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
      // A container on no overlay network (host-mode ports only) has no VIP to reach.
      if (!container || !state || container.networks.length === 0) return;
      const vips = containerVips(state, container.networks.map((n) => n.networkId));
      await this.lastApplied.apply(`vips ${taskId}`, [container.netns, vips], () => this.backends.programVips(container.netns, vips));
    });
  }

  /** Brings every container's VIP table up to the applied state, in the background. */
  private syncVips(): void {
    for (const taskId of this.containers.keys()) this.vipsBehind.add(taskId);
    if (!this.vipSync && this.vipsBehind.size > 0) this.vipSync = this.drainVips();
  }

  /** Started with work to do, so it awaits before it ends (and clears `vipSync` after it was set). */
  private async drainVips(): Promise<void> {
    do await Promise.all(Array.from({ length: VIP_CONCURRENCY }, () => this.vipWorker()));
    while (this.vipsBehind.size > 0);
    this.vipSync = undefined;
  }

  private async vipWorker(): Promise<void> {
    for (const taskId of this.vipsBehind) {
      this.vipsBehind.delete(taskId);
      await this.programContainerVips(taskId).catch((err: unknown) => this.logger.warn({ err, taskId }, 'network: could not program a container’s VIPs'));
    }
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
