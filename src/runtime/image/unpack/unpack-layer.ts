/**
 * Unpacks one layer blob: decompress by media type, read the tar, apply it onto a directory, and
 * hash the uncompressed stream on the way, which is the layer's DiffID in the image config.
 *
 * The compressed blob is verified by the content store when it is written; the DiffID checks the
 * decompression. A mismatch is found only at the end, after the entries were applied: the caller
 * unpacks into a directory it can throw away (overlay mode) or a root it will discard.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer, type LayerMode } from './apply-layer.js';
import { compressionOf, decompressor } from './decompress.js';
import { readTar } from './tar-reader.js';

export interface UnpackOptions {
  /** The layer blob as stored (compressed or not). */
  source: Readable;
  mediaType: string;
  target: string;
  mode: LayerMode;
  /** The DiffID the image config lists for this layer; checked when given. */
  diffId?: string;
}

export async function unpackLayer(options: UnpackOptions): Promise<{ diffId: string }> {
  const plain = decompressor(compressionOf(options.mediaType));
  const feeding = pipeline(options.source, plain);
  feeding.catch(() => undefined); // observed below; this only keeps an early failure from going unhandled
  const hash = createHash('sha256');
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of plain) {
      hash.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  }
  try {
    await applyLayer(options.target, readTar(hashed()), options.mode);
    await feeding;
  } catch (err) {
    plain.destroy();
    options.source.destroy();
    throw err;
  }
  const diffId = `sha256:${hash.digest('hex')}`;
  if (options.diffId !== undefined && options.diffId !== diffId) {
    throw new Error(`layer content has DiffID ${diffId}, the image config says ${options.diffId}`);
  }
  return { diffId };
}
