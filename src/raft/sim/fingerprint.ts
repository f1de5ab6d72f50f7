import type { Entry } from '../types.js';

/** FNV-1a over the bytes: cheap, and collisions between distinct workload commands are negligible. */
export function hashBytes(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What an entry says, without where it sits: its type and payload. */
export function contentOf(entry: Pick<Entry, 'type' | 'data'>): string {
  return `${entry.type}:${entry.data.length}:${hashBytes(entry.data).toString(36)}`;
}
