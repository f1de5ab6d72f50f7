/**
 * A small tar writer for tests: ustar headers, with names too long for them carried by a GNU `L`
 * (and `K`) header or a PAX record, and arbitrary extra PAX records. Tests use it to build exactly
 * the archives they need, malicious ones included, which the system tar would refuse to make.
 */
import type { EntryType } from '../tar-reader.js';

export interface TestEntry {
  path: string;
  type?: EntryType;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
  /** How a name or link over 100 bytes is carried. */
  longNames?: 'gnu' | 'pax';
  /** Extra PAX records for this entry. */
  pax?: Record<string, string>;
}

const FLAGS: Record<EntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, flag: string, size: number, fields: Partial<TestEntry> = {}): Buffer {
  const block = Buffer.alloc(512);
  block.write(name.slice(0, 100), 0, 'utf8');
  block.write(octal(fields.mode ?? 0o644, 8), 100, 'latin1');
  block.write(octal(fields.uid ?? 0, 8), 108, 'latin1');
  block.write(octal(fields.gid ?? 0, 8), 116, 'latin1');
  block.write(octal(size, 12), 124, 'latin1');
  block.write(octal(Math.floor(fields.mtime ?? 1_700_000_000), 12), 136, 'latin1');
  block.write(flag, 156, 'latin1');
  block.write((fields.linkpath ?? '').slice(0, 100), 157, 'utf8');
  block.write('ustar\x0000', 257, 'latin1');
  block.write(octal(fields.devmajor ?? 0, 8), 329, 'latin1');
  block.write(octal(fields.devminor ?? 0, 8), 337, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'latin1');
  return block;
}

function padded(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(pad)]);
}

function paxData(records: Record<string, string>): Buffer {
  const lines = Object.entries(records).map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body);
    // The length counts its own digits.
    while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
    return `${length}${body}`;
  });
  return Buffer.from(lines.join(''), 'utf8');
}

export function tarArchive(entries: TestEntry[], globalPax?: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  if (globalPax !== undefined) {
    const data = paxData(globalPax);
    blocks.push(header('pax_global_header', 'g', data.length), padded(data));
  }
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const content = Buffer.from(entry.content ?? '');
    const pax: Record<string, string> = { ...entry.pax };
    const long = entry.longNames ?? 'gnu';
    if (Buffer.byteLength(entry.path) > 100) {
      if (long === 'pax') pax.path = entry.path;
      else blocks.push(header('././@LongLink', 'L', Buffer.byteLength(entry.path) + 1), padded(Buffer.from(`${entry.path}\0`)));
    }
    const linkpath = entry.linkpath ?? '';
    if (Buffer.byteLength(linkpath) > 100) {
      if (long === 'pax') pax.linkpath = linkpath;
      else blocks.push(header('././@LongLink', 'K', Buffer.byteLength(linkpath) + 1), padded(Buffer.from(`${linkpath}\0`)));
    }
    if (Object.keys(pax).length > 0) {
      const data = paxData(pax);
      blocks.push(header('PaxHeader', 'x', data.length), padded(data));
    }
    blocks.push(header(entry.path, FLAGS[type], type === 'file' ? content.length : 0, entry));
    if (type === 'file') blocks.push(padded(content));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
