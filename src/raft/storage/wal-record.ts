/**
 * The framing of one write-ahead log record:
 *
 *   crc32 (u32 LE) | length (u32 LE) | type (u8) | payload (length bytes)
 *
 * The CRC covers length, type and payload, so a flipped bit anywhere in a record is caught. An entry
 * record's payload is index (u64 LE) | term (u64 LE) | entry type (u8) | data.
 */
import { crc32 } from 'node:zlib';
import type { Entry, EntryType } from '../types.js';

const HEADER_BYTES = 9;
const ENTRY_FIELDS_BYTES = 17;
const RECORD_TYPE_ENTRY = 1;

export type DecodedRecord =
  | { kind: 'entry'; entry: Entry; end: number }
  /** The record runs past the end of the file: a write that did not finish. */
  | { kind: 'incomplete' }
  /** Complete but not a valid record: a checksum mismatch or an unknown layout. */
  | { kind: 'invalid'; reason: string };

export function recordSize(entry: Entry): number {
  return HEADER_BYTES + ENTRY_FIELDS_BYTES + entry.data.length;
}

/** Encodes `entry` into `out` at `offset`; returns the offset just past it. */
export function encodeEntryRecord(entry: Entry, out: Buffer, offset: number): number {
  const payloadLength = ENTRY_FIELDS_BYTES + entry.data.length;
  out.writeUInt32LE(payloadLength, offset + 4);
  out.writeUInt8(RECORD_TYPE_ENTRY, offset + 8);
  writeU64(out, entry.index, offset + 9);
  writeU64(out, entry.term, offset + 17);
  out.writeUInt8(entry.type, offset + 25);
  out.set(entry.data, offset + 26);
  const end = offset + HEADER_BYTES + payloadLength;
  out.writeUInt32LE(crc32(out.subarray(offset + 4, end)), offset);
  return end;
}

export function decodeRecord(buf: Buffer, offset: number): DecodedRecord {
  if (buf.length - offset < HEADER_BYTES) return { kind: 'incomplete' };
  const payloadLength = buf.readUInt32LE(offset + 4);
  const end = offset + HEADER_BYTES + payloadLength;
  if (end > buf.length) return { kind: 'incomplete' };
  if (crc32(buf.subarray(offset + 4, end)) !== buf.readUInt32LE(offset)) {
    return { kind: 'invalid', reason: 'checksum mismatch' };
  }
  const type = buf.readUInt8(offset + 8);
  if (type !== RECORD_TYPE_ENTRY || payloadLength < ENTRY_FIELDS_BYTES) {
    return { kind: 'invalid', reason: `unknown record type ${type} of ${payloadLength} bytes` };
  }
  const entry: Entry = {
    index: readU64(buf, offset + 9),
    term: readU64(buf, offset + 17),
    type: buf.readUInt8(offset + 25) as EntryType,
    // A plain view of the segment's bytes (no copy): the entries keep the segment in memory, as the log must anyway.
    data: new Uint8Array(buf.buffer, buf.byteOffset + offset + 26, end - offset - 26),
  };
  return { kind: 'entry', entry, end };
}

/** Whether any valid record starts after `offset`: tells a torn tail from damage followed by data. */
export function validRecordFollows(buf: Buffer, offset: number): boolean {
  // The likely place first: where the damaged record's own length says the next one begins.
  if (buf.length - offset >= HEADER_BYTES) {
    const next = offset + HEADER_BYTES + buf.readUInt32LE(offset + 4);
    if (next < buf.length && decodeRecord(buf, next).kind === 'entry') return true;
  }
  for (let at = offset + 1; at + HEADER_BYTES <= buf.length; at++) {
    if (decodeRecord(buf, at).kind === 'entry') return true;
  }
  return false;
}

// Indexes and terms are safe integers (< 2^53), stored as u64 so the format outlives that limit.
function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32LE(value % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * 0x1_0000_0000;
}
