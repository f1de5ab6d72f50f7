/**
 * `shoal image ...`: the node's own image store (src/runtime/image/image-store.ts), worked on
 * directly in the node's state directory, with no manager involved: pull, ls, rm, load.
 *
 * The worker writes the same store. When it (or another `shoal image`) is writing, a write
 * command says whom it waits for and waits, as a user would expect rather than fail because a
 * pull happened to be running; after the store's wait limit it fails with one line naming that
 * process. `ls` never waits.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, type CommandContext, type CommandGroup } from '../cli/command.js';
import { CliError, UsageError } from '../cli/errors.js';
import type { FlagSpec } from '../cli/flags.js';
import { noTruncFlag, quietFlag } from '../cli/output.js';
import { renderTable, shortId } from '../cli/table.js';
import { ago, formatBytes } from '../cli/units.js';
import { CorruptArchiveError, UnknownArchiveFormatError } from '../../src/runtime/image/archive/read-archive.js';
import { ImagePullError } from '../../src/runtime/image/errors.js';
import { layersInUse } from '../../src/agent/runtime-executor/runtime-executor.js';
import { ImageConfigError } from '../../src/runtime/image/image-config.js';
import { ImageStore, LayerUnpackError, NoSuchImageError, type StoredImage } from '../../src/runtime/image/image-store.js';
import { ImageStoreBusyError } from '../../src/runtime/image/store-lock.js';
import { pullProgress } from './pull-progress.js';

export const DEFAULT_STATE_DIR = '/var/lib/shoal/worker';

const stateDirFlag: FlagSpec = {
  name: 'state-dir',
  kind: 'string',
  value: 'dir',
  help: `The node's state directory; images live in its images/ (default ${DEFAULT_STATE_DIR})`,
};

/** The failures a user can act on become one line and exit 1; anything else is a bug and propagates. */
async function withStore<T>(ctx: CommandContext, command: string, fn: (store: ImageStore) => Promise<T>): Promise<T> {
  const stateDir = ctx.flags.string('state-dir') ?? DEFAULT_STATE_DIR;
  const store = new ImageStore(stateDir, {
    owner: `shoal image ${command}`,
    // The worker's containers run on layers of this store: gc here must spare them as the worker's does.
    inUse: () => layersInUse(join(stateDir, 'containers')),
    onLockWait: (holder) => ctx.io.err.write(`Waiting for the image store ${join(stateDir, 'images')}, in use by pid ${holder.pid} (${holder.owner})\n`),
  });
  try {
    return await fn(store);
  } catch (error) {
    if (
      error instanceof ImagePullError ||
      error instanceof NoSuchImageError ||
      error instanceof UnknownArchiveFormatError ||
      error instanceof CorruptArchiveError ||
      error instanceof ImageConfigError ||
      error instanceof LayerUnpackError ||
      error instanceof ImageStoreBusyError ||
      (error as NodeJS.ErrnoException).code === 'EACCES'
    ) {
      throw new CliError((error as Error).message);
    }
    throw error;
  }
}

/** `docker.io/library/busybox` is shown as `busybox`, `docker.io/x/y` as `x/y`, as docker does. */
function splitName(name: string | undefined): [repository: string, tag: string] {
  if (name === undefined) return ['<none>', '<none>'];
  // Pulled by digest: the digest is not a tag (`docker images --digests` would show it).
  if (name.includes('@')) return [shorten(name.slice(0, name.indexOf('@'))), '<none>'];
  const colon = name.lastIndexOf(':');
  const [repo, tag] = colon > name.lastIndexOf('/') ? [name.slice(0, colon), name.slice(colon + 1)] : [name, '<none>'];
  return [shorten(repo), tag];
}

const shorten = (repository: string): string => repository.replace(/^docker\.io\/(?:library\/)?/, '');

const loadedLine = (image: StoredImage): string => (image.name !== undefined ? `Loaded image: ${image.name}\n` : `Loaded image ID: ${image.id}\n`);

const pull: Command = {
  name: 'pull',
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  summary: "Pull an image from a registry into this node's store (plain HTTP only to loopback registries)",
  flags: [stateDirFlag],
  minArgs: 1,
  maxArgs: 1,
  remote: false,
  async run(ctx) {
    const image = await withStore(ctx, 'pull', (store) => store.pull(ctx.args[0]!, { onEvent: pullProgress(ctx.io.out) }));
    ctx.io.out.write(`Pulled ${image.name} (id ${shortId(image.id.slice('sha256:'.length))})\n`);
    return 0;
  },
};

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: "List the images in this node's store",
  flags: [stateDirFlag, quietFlag, noTruncFlag],
  minArgs: 0,
  maxArgs: 0,
  remote: false,
  async run(ctx) {
    const images = await withStore(ctx, 'ls', (store) => store.list());
    const noTrunc = ctx.flags.bool('no-trunc');
    const id = (digest: string): string => (noTrunc ? digest : shortId(digest.slice('sha256:'.length)));
    if (ctx.flags.bool('quiet')) {
      ctx.io.out.write([...new Set(images.map((i) => id(i.id)))].map((i) => `${i}\n`).join(''));
      return 0;
    }
    const now = ctx.io.now();
    const rows = images
      .map((i) => [...splitName(i.name), id(i.id), i.created !== undefined ? ago(Date.parse(i.created), now) : '', formatBytes(i.size)])
      .sort((a, b) => a[0]!.localeCompare(b[0]!) || a[1]!.localeCompare(b[1]!));
    ctx.io.out.write(renderTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows));
    return 0;
  },
};

const rm: Command = {
  name: 'rm',
  aliases: ['rmi', 'remove'],
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Remove images by name or id, then delete the blobs and layers no image or container needs',
  flags: [stateDirFlag],
  minArgs: 1,
  remote: false,
  async run(ctx) {
    return withStore(ctx, 'rm', async (store) => {
      let failed = false;
      for (const what of ctx.args) {
        try {
          for (const name of await store.remove(what)) ctx.io.out.write(`Untagged: ${name}\n`);
        } catch (error) {
          if (!(error instanceof NoSuchImageError)) throw error;
          ctx.io.err.write(`shoal: ${error.message}\n`);
          failed = true;
        }
      }
      const deleted = await store.gc();
      for (const digest of [...deleted.blobs, ...deleted.layers]) ctx.io.out.write(`Deleted: ${digest}\n`);
      return failed ? 1 : 0;
    });
  },
};

const load: Command = {
  name: 'load',
  usage: '[OPTIONS]',
  summary: "Load images from an OCI image layout tar or a 'docker save' tar (gzip-compressed or not)",
  flags: [stateDirFlag, { name: 'input', short: 'i', kind: 'string', value: 'file', help: 'The archive to read (required)' }],
  minArgs: 0,
  maxArgs: 0,
  remote: false,
  async run(ctx) {
    const input = ctx.flags.string('input');
    if (input === undefined) throw new UsageError('--input FILE is required');
    if (!existsSync(input)) throw new CliError(`no such file: ${input}`);
    const images = await withStore(ctx, 'load', (store) => store.load(input));
    for (const image of images) ctx.io.out.write(loadedLine(image));
    return 0;
  },
};

export const imageGroup: CommandGroup = {
  name: 'image',
  summary: "Manage this node's images (works on the local state directory, not through a manager)",
  commands: [pull, ls, rm, load],
};
