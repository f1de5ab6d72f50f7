/**
 * Keeps the node's certificate fresh: once half its lifetime has passed (renewalTime), it asks a
 * manager for a new one over mutual TLS with the current one, saving it in the state directory,
 * and retries on failure after a jittered back-off, trying the next manager each time (the other
 * half of the lifetime is there to retry in). A refusal saying the node was removed ends renewal.
 * The lifetime is the managers' choice: each new certificate sets when the next renewal is due.
 */
import type { ServiceError } from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { Random } from '../common/random.js';
import { renewalTime, renewNodeCredentials, type NodeCredentials } from '../manager/ca/node-credentials.js';
import { backoffDelay, type BackoffConfig } from './backoff.js';
import { isRemovalRefusal } from './refusals.js';

export const DEFAULT_RENEWAL_BACKOFF: BackoffConfig = { initialMs: 1_000, maxMs: 60_000 };

export interface RenewerOptions {
  credentials: NodeCredentials;
  /** Where the renewed credentials are saved. */
  stateDir: string;
  /** Managers to ask, best first (the one of the live session, then the rest). */
  managers: () => string[];
  clock: Clock;
  /** Wall clock, ms since the epoch: certificate validity is in wall time. */
  now: () => number;
  random: Random;
  logger: Logger;
  backoff?: BackoffConfig;
  renewed(creds: NodeCredentials): void;
  /** The managers refused the renewal because the node is no longer in the cluster. */
  removed(message: string): void;
}

export class CertificateRenewer {
  private creds: NodeCredentials;
  private timer: TimerHandle | undefined;
  private failures = 0;
  private stopped = false;

  constructor(private readonly opts: RenewerOptions) {
    this.creds = opts.credentials;
  }

  get credentials(): NodeCredentials {
    return this.creds;
  }

  start(): void {
    this.scheduleAt(renewalTime(this.creds));
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private scheduleAt(wallTime: number): void {
    if (this.stopped) return;
    const delayMs = Math.max(0, wallTime - this.opts.now());
    this.timer = this.opts.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      void this.renew();
    });
  }

  private async renew(): Promise<void> {
    const managers = this.opts.managers();
    const address = managers[this.failures % Math.max(1, managers.length)];
    if (address === undefined) return this.retry(new Error('no manager is known'));
    let renewed: NodeCredentials;
    try {
      renewed = await renewNodeCredentials(this.creds, { address, nodeKeyDir: this.opts.stateDir });
    } catch (err) {
      if (this.stopped) return;
      if (isRemovalRefusal(err as ServiceError)) {
        this.stop();
        this.opts.removed((err as ServiceError).details);
        return;
      }
      return this.retry(err, address);
    }
    if (this.stopped) return;
    this.creds = renewed;
    this.failures = 0;
    this.opts.logger.info({ manager: address, notAfter: renewed.notAfter.toISOString() }, 'agent: node certificate renewed');
    this.opts.renewed(renewed);
    this.scheduleAt(renewalTime(renewed));
  }

  private retry(err: unknown, address?: string): void {
    this.failures++;
    const delayMs = backoffDelay(this.failures, this.opts.backoff ?? DEFAULT_RENEWAL_BACKOFF, this.opts.random);
    const reason = (err as Partial<ServiceError>).details || (err as Error).message;
    this.opts.logger.warn({ manager: address, err: reason, retryInMs: delayMs }, 'agent: could not renew the node certificate');
    this.scheduleAt(this.opts.now() + delayMs);
  }
}
