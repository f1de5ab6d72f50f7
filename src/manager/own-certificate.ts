/**
 * A manager's own certificate, renewed before it expires. Every manager holds the CA (it is in the
 * replicated Cluster object), so it signs its renewal itself rather than asking another manager:
 * at half the certificate's lifetime (renewalTime), a new key and certificate with the same node
 * id and role, saved to the state directory, then handed to whoever presents it (the TLS server,
 * the Raft transport's and the forwarder's channels).
 */
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/types.js';
import { issueLocalNodeCredentials, renewalTime, saveNodeCredentials, type NodeCredentials } from './ca/index.js';
import { certificateLifetimeOf } from './cluster-ca.js';

export interface OwnCertificateOptions {
  stateDir: string;
  store: Store;
  /** The SANs of this manager's certificate. */
  addresses: string[];
  /** Receives each renewed certificate. */
  onRenewed: (credentials: NodeCredentials) => void;
  logger: Logger;
  clock?: Clock;
  /** Wall clock, ms since the epoch (certificate validity is wall-clock time). */
  now?: () => number;
}

/** How soon to try again when the CA is not readable yet (a manager still catching up). */
const RETRY_MS = 60_000;

export class OwnCertificate {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly clock: Clock;
  private readonly now: () => number;

  constructor(
    private current: NodeCredentials,
    private readonly opts: OwnCertificateOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.now = opts.now ?? Date.now;
  }

  get credentials(): NodeCredentials {
    return this.current;
  }

  start(): void {
    this.schedule(renewalTime(this.current) - this.now());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(Math.max(delayMs, 0), () => this.tick());
  }

  private tick(): void {
    const due = renewalTime(this.current) - this.now();
    if (due > 0) {
      this.schedule(due);
      return;
    }
    const cluster = this.opts.store.view((tx) => tx.clusters.all()[0]);
    if (cluster?.ca === undefined) {
      this.opts.logger.warn('manager certificate: due for renewal but the CA is not in the store yet; retrying');
      this.schedule(RETRY_MS);
      return;
    }
    const { nodeId, role } = this.current;
    this.current = issueLocalNodeCredentials(cluster.ca, { nodeId, role }, { addresses: this.opts.addresses, lifetimeMs: certificateLifetimeOf(cluster), now: this.now() });
    saveNodeCredentials(this.opts.stateDir, this.current);
    this.opts.logger.info({ notAfter: this.current.notAfter.toISOString() }, 'manager certificate renewed');
    this.opts.onRenewed(this.current);
    this.schedule(renewalTime(this.current) - this.now());
  }
}
