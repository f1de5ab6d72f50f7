/**
 * Reads an image archive for `shoal image load`: an OCI image layout in a tar (`oci-layout`,
 * `index.json`, `blobs/sha256/...`; what `skopeo copy ... oci-archive:` and newer `docker save`
 * write) or a `docker save` tar (`manifest.json` naming a config file and layer tars per image).
 * A gzip-compressed tar is accepted too.
 *
 * A tar is read front to back and its members may come in any order, so every regular file is first
 * copied into a staging directory, hashed on the way; the formats are then read from there. Files
 * are staged under numbers, never under their archived names, so no name can point outside.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { posix, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ImageManifest } from '../types.js';
import { readTar } from '../unpack/tar-reader.js';
import { readDockerSave } from './docker-save.js';
import { readOciLayout } from './oci-layout.js';

/** A member of the archive, staged: `digest` is the sha256 of its bytes. */
export interface StagedFile {
  path: string;
  size: number;
  digest: string;
}

/** What an archive holds once staged: images whose blobs are all in `blobs`, verified. */
export interface ArchiveContent {
  images: ArchiveImage[];
  blobs: Map<string, StagedFile>;
}

export interface ArchiveImage {
  /** Normalised references; empty for an image the archive does not name. */
  names: string[];
  manifestDigest: string;
  manifest: ImageManifest;
  config: Buffer;
  extraBlobs?: string[];
}

export class UnknownArchiveFormatError extends Error {
  override name = 'UnknownArchiveFormatError';
  constructor(file: string) {
    super(`unknown archive format: ${file} is neither an OCI image layout nor a docker save archive`);
  }
}

export class CorruptArchiveError extends Error {
  override name = 'CorruptArchiveError';
  constructor(file: string, detail: string) {
    super(`corrupt archive ${file}: ${detail}`);
  }
}

/** The staged members by cleaned archive name, with helpers the two format readers share. */
export class StagedArchive {
  readonly files = new Map<string, StagedFile>();
  private count = 0;

  constructor(
    readonly archive: string,
    private readonly dir: string,
  ) {}

  corrupt(detail: string): CorruptArchiveError {
    return new CorruptArchiveError(this.archive, detail);
  }

  async json(name: string): Promise<unknown> {
    const file = this.files.get(name);
    if (file === undefined) throw this.corrupt(`${name} is missing`);
    try {
      return JSON.parse(await readFile(file.path, 'utf8'));
    } catch {
      throw this.corrupt(`${name} is not valid JSON`);
    }
  }

  async bytes(file: StagedFile): Promise<Buffer> {
    return readFile(file.path);
  }

  /** Stages bytes the archive does not hold (a manifest written for a docker save image). */
  async add(data: Buffer, digest: string): Promise<StagedFile> {
    const path = join(this.dir, String(this.count++));
    await writeFile(path, data);
    return { path, size: data.length, digest };
  }

  async stage(name: string, body: AsyncIterable<Buffer>): Promise<void> {
    const path = join(this.dir, String(this.count++));
    const out = createWriteStream(path, { mode: 0o600 });
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of body) {
      hash.update(chunk);
      size += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    out.end();
    await finished(out);
    this.files.set(name, { path, size, digest: `sha256:${hash.digest('hex')}` });
  }
}

export async function readArchive(file: string, stagingDir: string): Promise<ArchiveContent> {
  const staged = new StagedArchive(file, stagingDir);
  try {
    for await (const entry of readTar(await openMaybeGzip(file))) {
      if (entry.type !== 'file') continue;
      const name = posix.normalize(entry.path).replace(/^(\.\/|\/)+/, '');
      await staged.stage(name, entry.body);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no such file: ${file}`);
    throw staged.files.size === 0 ? new UnknownArchiveFormatError(file) : staged.corrupt(err instanceof Error ? err.message : String(err));
  }
  if (staged.files.has('oci-layout') && staged.files.has('index.json')) return readOciLayout(staged);
  if (staged.files.has('manifest.json')) return readDockerSave(staged);
  throw new UnknownArchiveFormatError(file);
}

/** The archive's bytes, gunzipped when they start with gzip's magic. */
async function openMaybeGzip(file: string): Promise<Readable> {
  const head = Buffer.alloc(2);
  const handle = await open(file, 'r');
  try {
    await handle.read(head, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(file);
  if (head[0] !== 0x1f || head[1] !== 0x8b) return raw;
  const out = new PassThrough();
  raw.on('error', (e) => out.destroy(e));
  return raw.pipe(createGunzip()).on('error', (e) => out.destroy(e)).pipe(out);
}
