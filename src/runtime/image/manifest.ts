/**
 * Reads image indexes and manifests (OCI image-spec image-index.md and manifest.md, and Docker's
 * v2 schema 2 list and manifest, which have the same shape), and picks one platform's manifest
 * from an index.
 */
import { checkDigest } from './digest.js';
import { RegistryError, NoMatchingPlatformError, UnsupportedMediaTypeError } from './errors.js';
import { isConfig, isIndex, isLayer, isManifest } from './media-types.js';
import type { Descriptor, ImageManifest, Platform } from './types.js';

/** BuildKit's attestation manifests sit in the index beside the images, as platform unknown/unknown. */
const REFERENCE_TYPE = 'vnd.docker.reference.type';
const ATTESTATION = 'attestation-manifest';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

type Json = Record<string, unknown>;

/**
 * The media type of a fetched manifest: its own `mediaType` field when it has one, else the
 * Content-Type the registry sent. Schema 1 and anything else unknown are refused here.
 */
export function manifestMediaType(doc: Json, contentType: string | null, what: string): string {
  const own = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = contentType?.split(';')[0]!.trim();
  const mediaType = own ?? header ?? '';
  if (doc.schemaVersion !== 2) {
    throw new UnsupportedMediaTypeError(`unsupported manifest schema version ${String(doc.schemaVersion)} for ${what}`);
  }
  if (isIndex(mediaType) || isManifest(mediaType)) return mediaType;
  throw new UnsupportedMediaTypeError(`unsupported manifest media type ${JSON.stringify(mediaType)} for ${what}`);
}

export function parseJson(body: Buffer, what: string): Json {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError(`${what} is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new RegistryError(`${what} is not a JSON object`);
  return doc as Json;
}

function descriptor(value: unknown, what: string): Descriptor {
  const d = value as Json | null;
  if (typeof d !== 'object' || d === null || typeof d.mediaType !== 'string' || typeof d.digest !== 'string') {
    throw new RegistryError(`${what}: malformed descriptor`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new RegistryError(`${what}: descriptor ${d.digest} has no valid size`);
  }
  const out: Descriptor = { mediaType: d.mediaType, digest: checkDigest(d.digest), size: d.size };
  const platform = d.platform as Json | undefined;
  if (platform && typeof platform.os === 'string' && typeof platform.architecture === 'string') {
    out.platform = { os: platform.os, architecture: platform.architecture };
    if (typeof platform.variant === 'string') out.platform.variant = platform.variant;
  }
  if (d.annotations && typeof d.annotations === 'object') out.annotations = d.annotations as Record<string, string>;
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  return out;
}

export function parseIndex(doc: Json, what: string): Descriptor[] {
  if (!Array.isArray(doc.manifests)) throw new RegistryError(`${what}: index without manifests`);
  return doc.manifests.map((m, i) => descriptor(m, `${what} manifests[${i}]`));
}

/**
 * The manifest for `platform` in an index, attestations skipped. A variant is compared only when
 * the wanted platform names one (amd64 has none in practice).
 */
export function selectPlatform(manifests: Descriptor[], platform: Platform, what: string): Descriptor {
  const images = manifests.filter((m) => m.annotations?.[REFERENCE_TYPE] !== ATTESTATION);
  const match = images.find(
    (m) =>
      m.platform?.os === platform.os &&
      m.platform.architecture === platform.architecture &&
      (platform.variant === undefined || m.platform.variant === platform.variant),
  );
  if (match) return match;
  const offered = images.map((m) => (m.platform ? platformText(m.platform) : 'unknown')).join(', ') || 'none';
  throw new NoMatchingPlatformError(`no ${platformText(platform)} image in ${what} (it has: ${offered})`);
}

export function platformText(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** An image manifest whose config is an image config and whose layers this runtime can unpack. */
export function parseImageManifest(doc: Json, mediaType: string, what: string): ImageManifest {
  const config = descriptor(doc.config, `${what} config`);
  if (!isConfig(config.mediaType)) {
    throw new UnsupportedMediaTypeError(`unsupported config media type ${config.mediaType} in ${what} (not a container image)`);
  }
  if (!Array.isArray(doc.layers)) throw new RegistryError(`${what}: manifest without layers`);
  const layers = doc.layers.map((l, i) => descriptor(l, `${what} layers[${i}]`));
  for (const layer of layers) {
    if (!isLayer(layer.mediaType)) {
      throw new UnsupportedMediaTypeError(`unsupported layer media type ${layer.mediaType} in ${what}`);
    }
  }
  return { mediaType, config, layers };
}
