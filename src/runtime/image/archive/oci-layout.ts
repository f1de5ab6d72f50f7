/**
 * An OCI image layout (image-spec image-layout.md) out of a staged archive: `index.json` lists the
 * images, each a manifest or an index (then the linux/amd64 manifest in it is taken); every blob
 * named is looked up under `blobs/sha256/` and must have the digest and size its descriptor says.
 * The image's name comes from containerd's `io.containerd.image.name` annotation, or from
 * `org.opencontainers.image.ref.name` when that is a whole reference rather than a bare tag.
 */
import { ImagePullError, NoMatchingPlatformError, UnsupportedMediaTypeError } from '../errors.js';
import { DEFAULT_PLATFORM, manifestMediaType, parseImageManifest, parseIndex, parseJson, selectPlatform } from '../manifest.js';
import { isIndex } from '../media-types.js';
import { formatReference, parseReference } from '../reference.js';
import type { Descriptor } from '../types.js';
import type { ArchiveContent, ArchiveImage, StagedArchive, StagedFile } from './read-archive.js';

type Json = Record<string, unknown>;

export async function readOciLayout(staged: StagedArchive): Promise<ArchiveContent> {
  const layout = (await staged.json('oci-layout')) as Json | null;
  if (typeof layout?.imageLayoutVersion !== 'string') throw staged.corrupt('oci-layout has no imageLayoutVersion');
  const blobs = new Map<string, StagedFile>();
  const blob = (d: Descriptor): StagedFile => {
    const file = staged.files.get(`blobs/sha256/${d.digest.slice('sha256:'.length)}`);
    if (file === undefined) throw staged.corrupt(`blob ${d.digest} is missing`);
    if (file.digest !== d.digest) throw staged.corrupt(`blob ${d.digest} has digest ${file.digest}`);
    if (file.size !== d.size) throw staged.corrupt(`blob ${d.digest} has ${file.size} bytes, its descriptor says ${d.size}`);
    blobs.set(d.digest, file);
    return file;
  };
  const images: ArchiveImage[] = [];
  try {
    const index = await staged.json('index.json');
    if (typeof index !== 'object' || index === null || Array.isArray(index)) throw staged.corrupt('index.json is not a JSON object');
    const top = parseIndex(index as Json, 'index.json');
    for (const entry of top) {
      const extraBlobs: string[] = [];
      let chosen = entry;
      let doc = parseJson(await staged.bytes(blob(chosen)), `manifest ${chosen.digest}`);
      let mediaType = manifestMediaType(doc, chosen.mediaType, `manifest ${chosen.digest}`);
      if (isIndex(mediaType)) {
        extraBlobs.push(chosen.digest);
        chosen = selectPlatform(parseIndex(doc, `index ${chosen.digest}`), DEFAULT_PLATFORM, `index ${chosen.digest}`);
        doc = parseJson(await staged.bytes(blob(chosen)), `manifest ${chosen.digest}`);
        mediaType = manifestMediaType(doc, chosen.mediaType, `manifest ${chosen.digest}`);
        if (isIndex(mediaType)) throw staged.corrupt('an index inside an index is not supported');
      }
      const manifest = parseImageManifest(doc, mediaType, `manifest ${chosen.digest}`);
      const config = await staged.bytes(blob(manifest.config));
      for (const layer of manifest.layers) blob(layer);
      const name = nameOf(entry);
      images.push({ names: name === undefined ? [] : [name], manifestDigest: chosen.digest, manifest, config, extraBlobs });
    }
  } catch (err) {
    // Types and platforms this node cannot run are said as such; other pull-side errors mean bad JSON.
    if (err instanceof ImagePullError && !(err instanceof UnsupportedMediaTypeError || err instanceof NoMatchingPlatformError)) {
      throw staged.corrupt(err.message);
    }
    throw err;
  }
  if (images.length === 0) throw staged.corrupt('index.json lists no images');
  return { images, blobs };
}

function nameOf(entry: Descriptor): string | undefined {
  const containerd = entry.annotations?.['io.containerd.image.name'];
  const refName = entry.annotations?.['org.opencontainers.image.ref.name'];
  const text = containerd ?? (refName !== undefined && /[/:]/.test(refName) ? refName : undefined);
  if (text === undefined) return undefined;
  try {
    return formatReference(parseReference(text));
  } catch {
    return undefined;
  }
}
