import { randomFillSync } from 'node:crypto';

/** Length of every id: 128 random bits written in base 36 always fit in 25 digits (36^25 > 2^128). */
export const ID_LENGTH = 25;

// Random bytes are drawn a pool at a time: one CSPRNG call per id would dominate the cost of
// creating 100,000 tasks (as node's randomUUID does, for the same reason).
const POOL_BYTES = 16 * 512;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * A new object id: 25 characters of [0-9a-z] encoding 128 bits from the system's CSPRNG, as
 * swarmkit's identity.NewID does, so ids are unguessable and collisions need not be considered.
 */
export function newId(): string {
  if (offset === POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const value = (pool.readBigUInt64BE(offset) << 64n) | pool.readBigUInt64BE(offset + 8);
  offset += 16;
  return value.toString(36).padStart(ID_LENGTH, '0');
}
