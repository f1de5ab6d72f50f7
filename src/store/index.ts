/**
 * The replicated object store: the Store contract (types.ts), its implementation over a Proposer,
 * the Raft FSM, and the proposer that adapts a RaftNode. Test helpers live in ./testing/.
 */
export * from './types.js';
export { ReplicatedStore, type ReplicatedStoreOptions } from './replicated-store.js';
export { StoreFsm, type BatchOutcome } from './fsm.js';
export { RaftProposer } from './raft-proposer.js';
export { DEFAULT_MAX_BATCH_BYTES, type BatcherOptions } from './batcher.js';
export { isPending } from './indexes.js';
