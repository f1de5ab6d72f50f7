/**
 * A `docker save` archive out of a staged archive: `manifest.json` is a list of images, each naming
 * its config file, its layer tars (bottom first) and its tags. No image manifest is in there, so one
 * is written (OCI, layers typed by their first bytes: gzip, zstd or plain tar) and stored like any
 * other blob; the config's DiffIDs check the layers when they are unpacked.
 */
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { sha256Of } from '../digest.js';
import { OCI_CONFIG, OCI_MANIFEST } from '../media-types.js';
import { formatReference, parseReference } from '../reference.js';
import type { Descriptor, ImageManifest } from '../types.js';
import type { ArchiveContent, ArchiveImage, StagedArchive, StagedFile } from './read-archive.js';

interface SaveEntry {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

export async function readDockerSave(staged: StagedArchive): Promise<ArchiveContent> {
  const list = await staged.json('manifest.json');
  if (!Array.isArray(list) || list.length === 0) throw staged.corrupt('manifest.json lists no images');
  const blobs = new Map<string, StagedFile>();
  const member = (name: unknown): StagedFile => {
    if (typeof name !== 'string') throw staged.corrupt('manifest.json names a file with a non-string');
    const file = staged.files.get(posix.normalize(name).replace(/^(\.\/|\/)+/, ''));
    if (file === undefined) throw staged.corrupt(`${name} is missing`);
    blobs.set(file.digest, file);
    return file;
  };
  const images: ArchiveImage[] = [];
  for (const entry of list as SaveEntry[]) {
    const configFile = member(entry.Config);
    if (!Array.isArray(entry.Layers)) throw staged.corrupt('manifest.json has an image without Layers');
    const layers: Descriptor[] = [];
    for (const name of entry.Layers) {
      const file = member(name);
      layers.push({ mediaType: await layerType(file), digest: file.digest, size: file.size });
    }
    const manifest: ImageManifest = {
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configFile.digest, size: configFile.size },
      layers,
    };
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, ...manifest }));
    const manifestDigest = sha256Of(body);
    blobs.set(manifestDigest, await staged.add(body, manifestDigest));
    const tags = Array.isArray(entry.RepoTags) ? entry.RepoTags : [];
    const names = tags.map((tag) => {
      try {
        return formatReference(parseReference(String(tag)));
      } catch {
        throw staged.corrupt(`manifest.json has a bad tag ${JSON.stringify(tag)}`);
      }
    });
    images.push({ names, manifestDigest, manifest, config: await staged.bytes(configFile) });
  }
  return { images, blobs };
}

async function layerType(file: StagedFile): Promise<string> {
  const head = Buffer.alloc(4);
  const handle = await open(file.path, 'r');
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'application/vnd.oci.image.layer.v1.tar+gzip';
  if (head.toString('hex') === '28b52ffd') return 'application/vnd.oci.image.layer.v1.tar+zstd';
  return 'application/vnd.oci.image.layer.v1.tar';
}
