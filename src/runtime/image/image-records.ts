/**
 * The image store's one state file, `<images>/repositories.json`: which images the node has, by
 * name. It is small and rewritten whole with an atomic replace, so a crash leaves the old list or
 * the new one. Blobs and layer directories are not listed here; they are found from the records.
 */
import { writeFileAtomic } from '../../common/atomic-file.js';
import { readTextIfExists } from '../../common/read-if-exists.js';

export interface ImageRecord {
  /** `registry/repository:tag` (normalised), or undefined for an image loaded without a name. */
  name?: string;
  manifestDigest: string;
  /** The image id, as docker names images. */
  configDigest: string;
  /** DiffIDs, bottom layer first: the directories under `layers/`. */
  layers: string[];
  /** Every blob the image needs kept: index (if any), manifest, config, layer blobs. */
  blobs: string[];
  /** Sum of the layer blobs' sizes as stored (compressed). */
  size: number;
  /** The config's build time, if it gives one. */
  created?: string;
}

interface RecordsFile {
  version: 1;
  images: ImageRecord[];
}

export async function readRecords(path: string): Promise<ImageRecord[]> {
  const text = await readTextIfExists(path);
  if (text === undefined) return [];
  const doc = JSON.parse(text) as RecordsFile;
  if (doc.version !== 1 || !Array.isArray(doc.images)) throw new Error(`${path}: not an image record file this version reads`);
  return doc.images;
}

export async function writeRecords(path: string, images: ImageRecord[]): Promise<void> {
  const doc: RecordsFile = { version: 1, images };
  await writeFileAtomic(path, `${JSON.stringify(doc, null, 2)}\n`, 0o644);
}
