/**
 * The contracts of the image pull client. The content store (content-store.ts) implements
 * `BlobWriter`; the pull client only ever talks to it through this interface.
 */
import type { Readable } from 'node:stream';

/** Where pulled blobs go: the content-addressed store, or anything with the same two verbs. */
export interface BlobWriter {
  /** Whether a complete, verified blob with this digest is already stored (it is then not fetched). */
  has(digest: string): Promise<boolean>;
  /**
   * Stores the blob read from `stream`. The stream is verified as it flows: when the bytes do not
   * match `digest` or `size`, it ends with an error instead of 'end', so a writer must commit (for
   * example rename into place) only after the stream has ended cleanly, and discard otherwise.
   * A failed write may be retried with a fresh stream for the same digest.
   */
  write(digest: string, size: number, stream: Readable): Promise<void>;
}

/** An OCI content descriptor (image-spec descriptor.md): what a manifest says about a blob. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** An image manifest reduced to what the runtime needs (OCI or Docker v2 schema 2). */
export interface ImageManifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** Progress of one pull, per blob. `total` is the size the manifest names. */
export type PullEvent =
  | { kind: 'resolved'; reference: string; manifestDigest: string; layers: Descriptor[] }
  | { kind: 'progress'; digest: string; done: number; total: number }
  | { kind: 'done'; digest: string; total: number; alreadyPresent: boolean };

/** What a pull produced: every blob it names is in the writer when this is returned. */
export interface PulledImage {
  /** The reference as given, normalised (`host/repo:tag` or `host/repo@digest`). */
  reference: string;
  /** The digest of the index the tag pointed at, when it pointed at one. */
  indexDigest?: string;
  manifestDigest: string;
  manifest: ImageManifest;
  /** The raw image configuration (OCI image config), already verified against its digest. */
  config: Buffer;
}
