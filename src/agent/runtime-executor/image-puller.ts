/**
 * A task's image, from the node's store or pulled into it when missing. Tasks of one service
 * usually arrive together: they share one pull of an image (each hearing its progress) rather
 * than queueing one behind the other. The progress is one line for the task's status message,
 * `pulling 127.0.0.1:5000/busybox: 2/3 layers, 1.2 MB`, given at most every `intervalMs` unless a
 * layer has just finished; a failed pull is one line too, `image not found: NAME` first.
 */
import { ImageNotFoundError, RegistryError } from '../../runtime/image/errors.js';
import { NoSuchImageError, type ImageStore, type ImageStoreEvent, type StoredImage } from '../../runtime/image/image-store.js';
import type { PrepareProgress } from '../executor.js';

/** How often a pull's byte count may update the message. */
export const PROGRESS_INTERVAL_MS = 500;

interface SharedPull {
  image: Promise<StoredImage>;
  listeners: Set<PrepareProgress>;
}

export class ImagePuller {
  private readonly pulls = new Map<string, SharedPull>();

  constructor(
    private readonly store: ImageStore,
    /** Monotonic ms, for spacing progress messages. */
    private readonly now: () => number,
  ) {}

  /** The image `reference` names, pulled first if the store lacks it. Throws an ImageUnavailableError. */
  async get(reference: string, progress?: PrepareProgress): Promise<StoredImage> {
    try {
      return await this.store.get(reference);
    } catch (err) {
      if (!(err instanceof NoSuchImageError)) throw err;
    }
    let pull = this.pulls.get(reference);
    if (!pull) {
      const listeners = new Set<PrepareProgress>();
      const report = new PullProgress(reference, this.now, (message) => listeners.forEach((l) => l(message)));
      const image = this.store
        .pull(reference, { onEvent: (event) => report.onEvent(event) })
        .catch((err: unknown) => {
          throw new ImageUnavailableError(reference, err);
        })
        .finally(() => this.pulls.delete(reference));
      pull = { image, listeners };
      this.pulls.set(reference, pull);
    }
    if (progress) {
      progress(`pulling ${reference}`);
      pull.listeners.add(progress);
    }
    try {
      return await pull.image;
    } finally {
      if (progress) pull.listeners.delete(progress);
    }
  }
}

/**
 * A pull that failed, worded for the task's error: `image not found: NAME` when the registry has
 * no such image (or refuses to say, as Docker Hub does for a private or absent repository without
 * credentials), else `cannot pull NAME: why`.
 */
export class ImageUnavailableError extends Error {
  override name = 'ImageUnavailableError';
  constructor(reference: string, cause: unknown) {
    super(pullFailure(reference, cause));
  }
}

function pullFailure(reference: string, err: unknown): string {
  if (err instanceof ImageNotFoundError) return err.message;
  const why = err instanceof Error ? err.message : String(err);
  if (err instanceof RegistryError && (err.status === 401 || err.status === 403)) return `image not found: ${reference} (${why})`;
  return `cannot pull ${reference}: ${why}`;
}

/** Turns a pull's events into status lines. */
export class PullProgress {
  private layers: string[] = [];
  private readonly bytes = new Map<string, number>();
  private readonly downloaded = new Set<string>();
  private readonly unpacked = new Set<string>();
  private lastAt = -Infinity;
  private last = '';

  constructor(
    private readonly reference: string,
    private readonly now: () => number,
    private readonly emit: (message: string) => void,
  ) {}

  onEvent(event: ImageStoreEvent): void {
    let milestone = false;
    switch (event.kind) {
      case 'resolved':
        this.layers = event.layers.map((l) => l.digest);
        milestone = true;
        break;
      case 'progress':
        this.bytes.set(event.digest, event.done);
        break;
      case 'done':
        if (!event.alreadyPresent) this.bytes.set(event.digest, event.total);
        this.downloaded.add(event.digest);
        milestone = true;
        break;
      case 'unpacked':
        this.unpacked.add(event.digest);
        milestone = true;
        break;
    }
    const now = this.now();
    if (!milestone && now - this.lastAt < PROGRESS_INTERVAL_MS) return;
    const message = this.message();
    if (message === this.last) return;
    this.last = message;
    this.lastAt = now;
    this.emit(message);
  }

  private message(): string {
    const total = this.layers.length;
    if (this.unpacked.size > 0) return `unpacking ${this.reference}: ${this.unpacked.size}/${total} layers`;
    let bytes = 0;
    for (const n of this.bytes.values()) bytes += n;
    return `pulling ${this.reference}: ${this.downloaded.size}/${total} layers, ${formatSize(bytes)}`;
  }
}

/** Bytes in decimal units, as docker's pull progress shows them: 512 B, 3.4 kB, 1.2 MB. */
export function formatSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
