/**
 * Segment files of the write-ahead log and reading them back. Each segment is named by the index of
 * its first entry, zero-padded so that names sort in log order.
 */
import * as path from 'node:path';
import type { Logger } from '../../common/logger.js';
import type { Entry } from '../types.js';
import { WalCorruptionError } from './errors.js';
import type { Fs } from './types.js';
import { decodeRecord, validRecordFollows } from './wal-record.js';

export interface Segment {
  firstIndex: number;
  path: string;
}

const SEGMENT_NAME = /^(\d{20})\.wal$/;

export function segmentPath(dir: string, firstIndex: number): string {
  return path.join(dir, `${String(firstIndex).padStart(20, '0')}.wal`);
}

/** The segments in `dir`, in log order; other files are not the log's and are left alone. */
export function listSegments(fs: Fs, dir: string): Segment[] {
  return fs
    .readdir(dir)
    .filter((name) => SEGMENT_NAME.test(name))
    .sort()
    .map((name) => ({ firstIndex: Number(name.slice(0, 20)), path: path.join(dir, name) }));
}

export interface RecoveredLog {
  segments: Segment[];
  /** Contiguous entries, the first being segments[0]'s first index. */
  entries: Entry[];
}

/**
 * Replays every segment in order. A record whose index is at or below the log's current end replaces
 * the tail from that index (how suffix replacement is written). Only the end of the last segment may
 * be damaged, and only if no valid record follows the damage: that is a write torn by a crash, and it
 * is cut off durably. Any other damage, or a gap in indexes, throws WalCorruptionError.
 */
export function recoverLog(fs: Fs, dir: string, logger: Logger): RecoveredLog {
  const segments = listSegments(fs, dir);
  const entries: Entry[] = [];
  const first = segments[0]?.firstIndex ?? 0;
  let next = first;
  segments.forEach((segment, i) => {
    if (segment.firstIndex !== next) {
      throw new WalCorruptionError(segment.path, 0, `segment begins at index ${segment.firstIndex} but the log continues at ${next}`);
    }
    const bytes = fs.readFile(segment.path);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    while (offset < buf.length) {
      const record = decodeRecord(buf, offset);
      if (record.kind !== 'entry') {
        const reason = record.kind === 'invalid' ? record.reason : 'incomplete record';
        if (i < segments.length - 1 || validRecordFollows(buf, offset)) {
          throw new WalCorruptionError(segment.path, offset, reason);
        }
        logger.warn({ file: segment.path, offset, dropped: buf.length - offset, reason }, 'truncating torn tail of the write-ahead log');
        cutTail(fs, segment.path, offset);
        break;
      }
      const { index } = record.entry;
      if (index < segment.firstIndex || index > next) {
        throw new WalCorruptionError(segment.path, offset, `entry ${index} out of sequence: segment begins at ${segment.firstIndex}, log continues at ${next}`);
      }
      if (index < next) entries.length = index - first;
      entries.push(record.entry);
      next = index + 1;
      offset = record.end;
    }
  });
  return { segments, entries };
}

function cutTail(fs: Fs, file: string, length: number): void {
  fs.truncate(file, length);
  const handle = fs.openAppend(file);
  try {
    handle.fdatasync();
  } finally {
    handle.close();
  }
}
