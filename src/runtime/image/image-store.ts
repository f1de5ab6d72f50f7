/**
 * The node's images, under `<stateDir>/images/`:
 *
 *   blobs/sha256/<hex>      every manifest, config and layer blob (the ContentStore)
 *   blobs/ingest/           blobs being downloaded or copied, renamed into sha256/ once verified
 *   layers/<diffid hex>/    each layer unpacked once, in overlay mode: one overlayfs lower directory
 *   layers/tmp/             layers being unpacked (renamed into place only when whole, checked and
 *                           on disk), and layers gc is deleting (renamed here first)
 *   staging/                archives being read by `load`
 *   repositories.json       name -> image (image-records.ts), replaced atomically
 *   lock/                   the write lock (store-lock.ts)
 *
 * A pull or load first stores every blob (verified), then unpacks the layers it lacks, then writes
 * the record: a record therefore always names blobs and layer directories that are complete, even
 * after a crash. Nothing is deleted by `remove`; `gc` deletes what no record (and no container,
 * via `inUse`) needs, and a layer directory leaves its final name before it is emptied.
 *
 * Every write (pull, load, remove, gc) holds the store's lock, shared with other processes on the
 * same state directory (the worker and `shoal image`), so that gc never runs beside a pull that has
 * stored blobs but not yet recorded them; within the process they also queue. A write that finds
 * another process writing waits for it (a pull can take minutes, and a user's command should
 * not fail because the worker happened to be pulling), telling `onLockWait` who it waits for, and
 * gives up after `lockTimeoutMs` with an error naming that process. Having the lock, it first
 * deletes what a crashed write left: ingest files, layers/tmp/, staging/. Readers (list, get)
 * take no lock: the records file is replaced whole, and what it names is complete.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContentStore, syncDir } from './content-store.js';
import { readArchive } from './archive/read-archive.js';
import { ImageConfigError, parseImageConfig, type ImageConfig, type RuntimeConfig } from './image-config.js';
import { readRecords, writeRecords, type ImageRecord } from './image-records.js';
import { pullImage } from './pull.js';
import { StoreLock, type LockHolder } from './store-lock.js';
import { formatReference, parseReference } from './reference.js';
import { RegistryClient } from './registry-client.js';
import type { Descriptor, ImageManifest, Platform, PullEvent } from './types.js';
import { unpackLayer } from './unpack/unpack-layer.js';

const run = promisify(execFile);

/** Pull progress, plus one event per layer once it is unpacked (or found already unpacked). */
export type ImageStoreEvent = PullEvent | { kind: 'unpacked'; digest: string; diffId: string; alreadyPresent: boolean };

export interface ImageStoreOptions {
  client?: RegistryClient;
  /** DiffIDs whose layer directories a container still uses; gc keeps them. */
  inUse?: () => Promise<Iterable<string>>;
  /** Who this process is, shown to another that finds the store in use: `shoal worker`, `shoal image pull`. */
  owner?: string;
  /** How long a write waits for another process's write to end (default 5 minutes). */
  lockTimeoutMs?: number;
  /** Told once per write that has to wait for another process. */
  onLockWait?: (holder: LockHolder) => void;
}

const DEFAULT_LOCK_TIMEOUT_MS = 5 * 60_000;

/** An image ready to run: its layer directories and default process settings. */
export interface StoredImage {
  name?: string;
  /** The config digest. */
  id: string;
  manifestDigest: string;
  /** Bottom layer first; overlayfs's lowerdir lists them the other way round (top first). */
  layerDirs: string[];
  config: RuntimeConfig;
}

export interface ImageSummary {
  name?: string;
  id: string;
  size: number;
  created?: string;
}

/** The image named (by name or id) is not on this node. */
export class NoSuchImageError extends Error {
  override name = 'NoSuchImageError';
  constructor(readonly what: string) {
    super(`no such image: ${what}`);
  }
}

/** A layer blob that did not unpack: bad compression or tar, or content not matching its DiffID. */
export class LayerUnpackError extends Error {
  override name = 'LayerUnpackError';
  constructor(digest: string, image: string, cause: unknown) {
    super(`cannot unpack layer ${digest} of ${image}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** What an import needs once every blob it names is in the content store. */
interface Importable {
  name?: string;
  manifestDigest: string;
  manifest: ImageManifest;
  config: Buffer;
  /** Blobs to keep besides manifest, config and layers (an index). */
  extraBlobs?: string[];
}

export class ImageStore {
  readonly blobs: ContentStore;
  private readonly dir: string;
  private readonly layersDir: string;
  private readonly recordsPath: string;
  private readonly lockDir: string;
  private readonly client: RegistryClient;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    stateDir: string,
    private readonly options: ImageStoreOptions = {},
  ) {
    this.dir = join(stateDir, 'images');
    this.blobs = new ContentStore(this.dir);
    this.layersDir = join(this.dir, 'layers');
    this.recordsPath = join(this.dir, 'repositories.json');
    this.lockDir = join(this.dir, 'lock');
    this.client = options.client ?? new RegistryClient();
  }

  /** Pulls REF into the store (blobs already present are not fetched) and records it under its name. */
  pull(reference: string, options: { onEvent?: (event: ImageStoreEvent) => void; platform?: Platform } = {}): Promise<StoredImage> {
    return this.serial(async () => {
      const pulled = await pullImage(this.client, this.blobs, reference, { onEvent: options.onEvent, platform: options.platform });
      const image: Importable = { name: pulled.reference, manifestDigest: pulled.manifestDigest, manifest: pulled.manifest, config: pulled.config };
      if (pulled.indexDigest !== undefined) image.extraBlobs = [pulled.indexDigest];
      return this.commit(image, options.onEvent);
    });
  }

  /** Imports an OCI image layout tar or a `docker save` tar; returns the images it held. */
  load(archivePath: string): Promise<StoredImage[]> {
    return this.serial(async () => {
      const staging = join(this.dir, 'staging', randomBytes(6).toString('hex'));
      await mkdir(staging, { recursive: true, mode: 0o700 });
      try {
        const archive = await readArchive(archivePath, staging);
        const loaded: StoredImage[] = [];
        for (const image of archive.images) {
          for (const digest of [image.manifestDigest, image.manifest.config.digest, ...image.manifest.layers.map((l) => l.digest), ...(image.extraBlobs ?? [])]) {
            if (await this.blobs.has(digest)) continue;
            const file = archive.blobs.get(digest)!;
            await this.blobs.write(digest, file.size, createReadStream(file.path));
          }
          const names = image.names.length > 0 ? image.names : [undefined];
          for (const name of names) loaded.push(await this.commit({ ...image, name }));
        }
        return loaded;
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    });
  }

  async list(): Promise<ImageSummary[]> {
    const records = await readRecords(this.recordsPath);
    return records.map((r) => {
      const summary: ImageSummary = { id: r.configDigest, size: r.size };
      if (r.name !== undefined) summary.name = r.name;
      if (r.created !== undefined) summary.created = r.created;
      return summary;
    });
  }

  /** The image by name (`busybox` means `docker.io/library/busybox:latest`) or by id (a prefix will do). */
  async get(what: string): Promise<StoredImage> {
    const record = this.resolve(await readRecords(this.recordsPath), what)[0]!;
    const config = parseImageConfig(await this.readBlob(record.configDigest), what);
    return this.stored(record, config);
  }

  /**
   * Forgets an image: by name, that name; by id, every name of that image. Returns the names
   * removed (an unnamed image gives its id). Blobs and layers stay until `gc`.
   */
  remove(what: string): Promise<string[]> {
    return this.serial(async () => {
      const records = await readRecords(this.recordsPath);
      const gone = new Set(this.resolve(records, what));
      await writeRecords(this.recordsPath, records.filter((r) => !gone.has(r)));
      return [...gone].map((r) => r.name ?? r.configDigest);
    });
  }

  /** Deletes blobs and layer directories that no image record and no container needs. */
  gc(): Promise<{ blobs: string[]; layers: string[] }> {
    return this.serial(async () => {
      const records = await readRecords(this.recordsPath);
      const keepBlobs = new Set(records.flatMap((r) => r.blobs));
      const keepLayers = new Set([...records.flatMap((r) => r.layers), ...((await this.options.inUse?.()) ?? [])]);
      const blobs = (await this.blobs.list()).filter((d) => !keepBlobs.has(d));
      for (const digest of blobs) await this.blobs.delete(digest);
      const layers = (await this.layerDiffIds()).filter((d) => !keepLayers.has(d));
      for (const diffId of layers) {
        // Out of its name first: a crash halfway through deleting must not leave a partial layer
        // where a later pull would take it as unpacked.
        const doomed = join(this.layersDir, 'tmp', `${diffId.slice('sha256:'.length)}.gc`);
        await mkdir(join(this.layersDir, 'tmp'), { recursive: true, mode: 0o755 });
        await rename(this.layerDir(diffId), doomed);
        await rm(doomed, { recursive: true, force: true });
      }
      return { blobs, layers };
    });
  }

  /** Where a layer is (or would be) unpacked. */
  layerDir(diffId: string): string {
    return join(this.layersDir, diffId.slice('sha256:'.length));
  }

  /** Unpacks the layers not yet unpacked and records the image under its name (replacing that name's old image). */
  private async commit(image: Importable, onEvent?: (event: ImageStoreEvent) => void): Promise<StoredImage> {
    const what = image.name ?? image.manifestDigest;
    const config = parseImageConfig(image.config, what);
    const layers = image.manifest.layers;
    if (config.diffIds.length !== layers.length) {
      throw new ImageConfigError(`${what}: the manifest has ${layers.length} layers but the config lists ${config.diffIds.length} DiffIDs`);
    }
    for (const [i, layer] of layers.entries()) {
      const unpacked = await this.unpackOnce(layer, config.diffIds[i]!, what);
      onEvent?.({ kind: 'unpacked', digest: layer.digest, diffId: config.diffIds[i]!, alreadyPresent: !unpacked });
    }
    const record: ImageRecord = {
      manifestDigest: image.manifestDigest,
      configDigest: image.manifest.config.digest,
      layers: config.diffIds,
      blobs: [...new Set([...(image.extraBlobs ?? []), image.manifestDigest, image.manifest.config.digest, ...layers.map((l) => l.digest)])],
      size: layers.reduce((sum, l) => sum + l.size, 0),
    };
    if (image.name !== undefined) record.name = image.name;
    if (config.created !== undefined) record.created = config.created;
    const records = await readRecords(this.recordsPath);
    // A name points at one image; an unnamed image is kept once per id.
    const others = records.filter((r) => (image.name !== undefined ? r.name !== image.name : r.name !== undefined || r.configDigest !== record.configDigest));
    await writeRecords(this.recordsPath, [...others, record]);
    return this.stored(record, config);
  }

  /** Unpacks a layer blob into `layers/<diffid>/` unless it is there; true when it unpacked. */
  private async unpackOnce(layer: Descriptor, diffId: string, image: string): Promise<boolean> {
    const target = this.layerDir(diffId);
    if (await isDirectory(target)) return false;
    const temp = join(this.layersDir, 'tmp', `${diffId.slice('sha256:'.length)}.${randomBytes(6).toString('hex')}`);
    await mkdir(temp, { recursive: true, mode: 0o755 });
    try {
      await unpackLayer({ source: this.blobs.open(layer.digest), mediaType: layer.mediaType, target: temp, mode: 'overlay', diffId });
      // On disk before it gets its name, so that after a crash a layer directory is whole or absent.
      await run('sync', ['--file-system', temp]);
      await rename(temp, target);
      await syncDir(this.layersDir);
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      throw new LayerUnpackError(layer.digest, image, err);
    }
    return true;
  }

  private stored(record: ImageRecord, config: ImageConfig): StoredImage {
    const image: StoredImage = {
      id: record.configDigest,
      manifestDigest: record.manifestDigest,
      layerDirs: record.layers.map((d) => this.layerDir(d)),
      config: config.runtime,
    };
    if (record.name !== undefined) image.name = record.name;
    return image;
  }

  /** The records `what` names: one by name, or all of one image by id; never none. */
  private resolve(records: ImageRecord[], what: string): ImageRecord[] {
    const hex = /^(?:sha256:)?([a-f0-9]{4,64})$/.exec(what)?.[1];
    if (hex !== undefined) {
      const ids = new Set(records.filter((r) => r.configDigest.slice('sha256:'.length).startsWith(hex)).map((r) => r.configDigest));
      if (ids.size > 1) throw new Error(`image id ${what} is ambiguous`);
      if (ids.size === 1) {
        const [id] = ids;
        return records.filter((r) => r.configDigest === id);
      }
    }
    let name: string | undefined;
    try {
      name = formatReference(parseReference(what));
    } catch {
      throw new NoSuchImageError(what);
    }
    const named = records.find((r) => r.name === name);
    if (named === undefined) throw new NoSuchImageError(what);
    return [named];
  }

  private async readBlob(digest: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.blobs.open(digest)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  private async layerDiffIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.layersDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((hex) => `sha256:${hex}`);
  }

  /** Runs a write after the writes queued before it in this process, holding the store's lock. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const locked = () => this.locked(fn);
    const result = this.queue.then(locked, locked);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const lock = await StoreLock.acquire(this.lockDir, this.dir, {
      owner: this.options.owner ?? 'shoal',
      timeoutMs: this.options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      onWait: this.options.onLockWait,
    });
    try {
      await this.removeLeftovers();
      return await fn();
    } finally {
      await lock.release();
    }
  }

  /**
   * What a write that crashed left behind; only called holding the lock, when no write is running.
   * (The records file's own temporary file is replaced by its next write.)
   */
  private async removeLeftovers(): Promise<void> {
    await this.blobs.removeIngests();
    await emptyDir(join(this.dir, 'staging'));
    await emptyDir(join(this.layersDir, 'tmp'));
  }
}

async function emptyDir(path: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) await rm(join(path, name), { recursive: true, force: true });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
