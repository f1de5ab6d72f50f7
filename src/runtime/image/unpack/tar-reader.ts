/**
 * A streaming tar reader for image layers: ustar headers, GNU long names and long link names
 * (`L`/`K`), PAX extended headers (`x`, and global `g`) for path, linkpath, size, mtime, uid, gid
 * and `SCHILY.xattr.*`, and GNU base-256 numbers. Bodies are streamed, never buffered whole.
 *
 * `readTar` yields one entry at a time; an entry's body is only readable until the next entry is
 * asked for, and whatever the caller did not read is skipped.
 */

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** The name as archived (with any PAX/GNU override), not yet cleaned or checked. */
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; PAX may give a fraction. */
  mtime: number;
  size: number;
  linkpath: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.NAME` records. */
  xattrs: Map<string, Buffer>;
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;

/** Pulls exact byte counts out of a chunked source. */
class ByteSource {
  private readonly iterator: AsyncIterator<Buffer | Uint8Array | string>;
  private pending: Buffer = Buffer.alloc(0);

  constructor(source: AsyncIterable<Buffer | Uint8Array | string>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Up to `max` bytes (at least one), or null at the end of the source. */
  async next(max: number): Promise<Buffer | null> {
    if (this.pending.length === 0) {
      for (;;) {
        const step = await this.iterator.next();
        if (step.done === true) return null;
        const value = step.value;
        this.pending = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        if (this.pending.length > 0) break;
      }
    }
    const out = this.pending.subarray(0, max);
    this.pending = this.pending.subarray(out.length);
    return out;
  }

  /** Exactly `n` bytes; null only if the source ended before the first of them. */
  async exact(n: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const part = await this.next(n - have);
      if (part === null) {
        if (have === 0) return null;
        throw new Error('tar: archive is truncated');
      }
      parts.push(part);
      have += part.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const part = await this.next(left);
      if (part === null) throw new Error('tar: archive is truncated');
      left -= part.length;
    }
  }

  /** Reads and discards whatever is left (trailing padding after the end marker). */
  async drain(): Promise<void> {
    while ((await this.next(Number.MAX_SAFE_INTEGER)) !== null) {
      /* discard */
    }
  }
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/** Octal ASCII, or GNU base-256 when the top bit of the first byte is set. */
function number(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if ((field[0] & 0x80) !== 0) {
    if ((field[0] & 0x40) !== 0) throw new Error('tar: negative base-256 number');
    let value = field[0] & 0x3f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    if (!Number.isSafeInteger(value)) throw new Error('tar: number too large');
    return value;
  }
  const digits = field.toString('latin1').replace(/[\0 ]+$/g, '').replace(/^[\0 ]+/, '');
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw new Error(`tar: bad numeric field ${JSON.stringify(digits)}`);
  return parseInt(digits, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = number(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** PAX records: `<length> <key>=<value>\n`, the length counting the whole record. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = parseInt(data.subarray(at, space).toString('latin1'), 10);
    if (!Number.isInteger(length) || length <= space - at || at + length > data.length) {
      throw new Error('tar: malformed PAX record');
    }
    const record = data.subarray(space + 1, at + length - 1); // without the trailing newline
    const equals = record.indexOf(0x3d);
    if (equals === -1) throw new Error('tar: malformed PAX record');
    records.set(record.subarray(0, equals).toString('utf8'), Buffer.from(record.subarray(equals + 1)));
    at += length;
  }
  return records;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

function paxNumber(records: Map<string, Buffer>, key: string): number | undefined {
  const value = records.get(key);
  if (value === undefined) return undefined;
  const parsed = Number(value.toString('latin1'));
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`tar: bad PAX ${key}`);
  return parsed;
}

export async function* readTar(source: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<TarEntry> {
  const input = new ByteSource(source);
  const global = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;

  for (;;) {
    const block = await input.exact(BLOCK);
    if (block === null) return; // no end marker: tolerated, as GNU tar does
    if (block.every((byte) => byte === 0)) {
      await input.drain();
      return;
    }
    if (!checksumOk(block)) throw new Error('tar: header checksum mismatch');

    const flag = String.fromCharCode(block[156]);
    const headerSize = number(block, 124, 12);
    const padded = Math.ceil(headerSize / BLOCK) * BLOCK;

    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      const data = (await input.exact(padded)) ?? Buffer.alloc(0);
      if (data.length < headerSize) throw new Error('tar: archive is truncated');
      const content = data.subarray(0, headerSize);
      if (flag === 'x') pax = parsePax(content);
      else if (flag === 'g') for (const [key, value] of parsePax(content)) global.set(key, value);
      else if (flag === 'L') longName = text(content, 0, content.length);
      else longLink = text(content, 0, content.length);
      continue;
    }

    const type = TYPES[flag];
    if (type === undefined) throw new Error(`tar: unsupported entry type ${JSON.stringify(flag)}`);

    const records = new Map([...global, ...pax]);
    const magic = block.subarray(257, 263).toString('latin1');
    // Only POSIX ustar has a name prefix; old GNU headers keep other fields there.
    const prefix = magic === 'ustar\0' ? text(block, 345, 155) : '';
    const headerName = prefix === '' ? text(block, 0, 100) : `${prefix}/${text(block, 0, 100)}`;
    const xattrs = new Map<string, Buffer>();
    for (const [key, value] of records) {
      if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
    }

    const size = type === 'file' ? (paxNumber(records, 'size') ?? headerSize) : 0;
    const dataSize = paxNumber(records, 'size') ?? headerSize; // what the archive actually holds
    const entry: Omit<TarEntry, 'body'> = {
      path: records.get('path')?.toString('utf8') ?? longName ?? headerName,
      type,
      mode: number(block, 100, 8) & 0o7777,
      uid: paxNumber(records, 'uid') ?? number(block, 108, 8),
      gid: paxNumber(records, 'gid') ?? number(block, 116, 8),
      mtime: paxNumber(records, 'mtime') ?? number(block, 136, 12),
      size,
      linkpath: records.get('linkpath')?.toString('utf8') ?? longLink ?? text(block, 157, 100),
      devmajor: number(block, 329, 8),
      devminor: number(block, 337, 8),
      xattrs,
    };
    pax = new Map();
    longName = undefined;
    longLink = undefined;

    let left = dataSize;
    async function* body(): AsyncGenerator<Buffer> {
      while (left > 0) {
        const part = await input.next(left);
        if (part === null) throw new Error('tar: archive is truncated');
        left -= part.length;
        yield part;
      }
    }
    yield { ...entry, body: body() };
    await input.skip(left + (Math.ceil(dataSize / BLOCK) * BLOCK - dataSize));
  }
}
