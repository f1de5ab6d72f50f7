/** Durable storage for the Raft driver, the simulated disk it can run on, and in-memory fakes. */
export type { FileHandle, Fs, LogStore, SnapshotStore, StableStore } from './types.js';
export { ChecksumError, WalCorruptionError } from './errors.js';
export { realFs } from './fs-real.js';
export { SimFs, type SimFileState } from './sim-fs.js';
export { WalLogStore, type WalOptions } from './wal.js';
export { FileStableStore, type FileStableStoreOptions } from './stable-store.js';
export { FileSnapshotStore, type FileSnapshotStoreOptions } from './snapshot-store.js';
export { InmemLogStore, InmemSnapshotStore, InmemStableStore } from './memory.js';
