/**
 * Pulls one image into a `BlobWriter`: resolves the reference to a manifest (through an index for
 * the wanted platform), stores index, manifest and config, then downloads the layers the writer
 * does not have yet, a few at a time, each verified as it streams and retried on network failures.
 */
import { Readable, pipeline } from 'node:stream';
import { VerifyingStream } from './digest.js';
import { DigestMismatchError, ImagePullError } from './errors.js';
import { DEFAULT_PLATFORM, manifestMediaType, parseImageManifest, parseIndex, parseJson, selectPlatform } from './manifest.js';
import { isIndex } from './media-types.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import type { RegistryClient } from './registry-client.js';
import type { BlobWriter, Descriptor, Platform, PulledImage, PullEvent } from './types.js';

export interface PullOptions {
  platform?: Platform;
  /** Layers downloaded at once. */
  concurrency?: number;
  onEvent?: (event: PullEvent) => void;
}

const DEFAULT_CONCURRENCY = 3;

export async function pullImage(
  client: RegistryClient,
  writer: BlobWriter,
  reference: string,
  options: PullOptions = {},
): Promise<PulledImage> {
  const ref = parseReference(reference);
  const name = formatReference(ref);
  const emit = options.onEvent ?? (() => {});
  const platform = options.platform ?? DEFAULT_PLATFORM;

  let fetched = await client.getManifest(ref);
  let doc = parseJson(fetched.body, `manifest of ${name}`);
  let mediaType = manifestMediaType(doc, fetched.contentType, name);
  let index: { digest: string; body: Buffer } | undefined;
  if (isIndex(mediaType)) {
    index = { digest: fetched.digest, body: fetched.body };
    const chosen = selectPlatform(parseIndex(doc, `index of ${name}`), platform, name);
    const child: ImageReference = { ...ref, digest: chosen.digest };
    fetched = await client.getManifest(child);
    doc = parseJson(fetched.body, `manifest ${chosen.digest} of ${name}`);
    mediaType = manifestMediaType(doc, fetched.contentType, name);
    if (isIndex(mediaType)) throw new ImagePullError(`${name}: an index inside an index is not supported`);
  }
  const manifest = parseImageManifest(doc, mediaType, name);
  emit({ kind: 'resolved', reference: name, manifestDigest: fetched.digest, layers: manifest.layers });

  const config = await client.getBlob(ref, manifest.config.digest, manifest.config.size);
  await storeBuffer(writer, manifest.config.digest, config);

  await forEachBounded(uniqueByDigest(manifest.layers), options.concurrency ?? DEFAULT_CONCURRENCY, (layer) =>
    pullLayer(client, writer, ref, layer, emit),
  );
  // Manifest, then index, go in last: a store that has one has everything it names.
  await storeBuffer(writer, fetched.digest, fetched.body);
  if (index) await storeBuffer(writer, index.digest, index.body);

  const pulled: PulledImage = { reference: name, manifestDigest: fetched.digest, manifest, config };
  if (index) pulled.indexDigest = index.digest;
  return pulled;
}

async function storeBuffer(writer: BlobWriter, digest: string, data: Buffer): Promise<void> {
  if (await writer.has(digest)) return;
  await writer.write(digest, data.length, Readable.from([data]).pipe(new VerifyingStream(digest, data.length)));
}

async function pullLayer(
  client: RegistryClient,
  writer: BlobWriter,
  ref: ImageReference,
  layer: Descriptor,
  emit: (event: PullEvent) => void,
): Promise<void> {
  if (await writer.has(layer.digest)) {
    emit({ kind: 'done', digest: layer.digest, total: layer.size, alreadyPresent: true });
    return;
  }
  await client.withRetry(async () => {
    const source = await client.openBlobOnce(ref, layer.digest);
    const verifier = new VerifyingStream(layer.digest, layer.size, (done) =>
      emit({ kind: 'progress', digest: layer.digest, done, total: layer.size }),
    );
    let sourceError: unknown;
    let verifyError: unknown;
    let verified = false;
    source.on('error', (e) => (sourceError = e));
    verifier.on('error', (e) => (verifyError ??= e));
    verifier.on('end', () => (verified = true));
    // pipeline, not pipe: a source that fails destroys the verifier, so the writer sees the error.
    pipeline(source, verifier, () => {});
    try {
      await writer.write(layer.digest, layer.size, verifier);
    } catch (e) {
      source.destroy();
      if (verifyError instanceof DigestMismatchError) throw verifyError;
      if (sourceError !== undefined) throw client.classify(sourceError, ref);
      throw e;
    }
    if (verifyError instanceof DigestMismatchError) throw verifyError;
    if (sourceError !== undefined) throw client.classify(sourceError, ref);
    if (!verified) {
      source.destroy();
      throw new ImagePullError(`the blob writer returned before reading all of ${layer.digest}`);
    }
  });
  emit({ kind: 'done', digest: layer.digest, total: layer.size, alreadyPresent: false });
}

/** Two layers with one digest (an empty layer used twice) are fetched once. */
function uniqueByDigest(layers: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return layers.filter((l) => !seen.has(l.digest) && seen.add(l.digest));
}

/** Runs `fn` over `items` with at most `limit` at a time; the first failure fails the whole. */
async function forEachBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane);
  const results = await Promise.allSettled(lanes);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}
