/**
 * The public face of shoal's Raft library: the RaftNode driver and the contracts an application
 * implements or plugs in (FSM, stores, transport). Internals (the core, the simulator, SimFs) stay private.
 */
export { RaftNode } from './node.js';
export type { RaftOptions } from './options.js';
export { forceNewCluster, type ForceNewClusterOptions, type ForceNewClusterResult } from './force-new-cluster.js';
export type { Observation, ObservationListener } from './observations.js';
export type { RaftStats } from './stats.js';
export type { FSM } from './fsm.js';
export type { LogStore, StableStore, SnapshotStore, Fs, FileHandle } from './storage/types.js';
export {
  WalLogStore,
  FileStableStore,
  FileSnapshotStore,
  InmemLogStore,
  InmemStableStore,
  InmemSnapshotStore,
  WalCorruptionError,
  ChecksumError,
  realFs,
  type WalOptions,
  type FileStableStoreOptions,
  type FileSnapshotStoreOptions,
} from './storage/index.js';
export type { Transport } from './transport/types.js';
export { GrpcTransport, type GrpcTransportOptions, type PeerStatus } from './transport/grpc.js';
export { InmemNetwork, InmemTransport } from './transport/inmem.js';
export {
  EntryType,
  RaftError,
  encodeConfiguration,
  decodeConfiguration,
  type ServerId,
  type ServerAddress,
  type Suffrage,
  type Server,
  type Configuration,
  type ConfigurationChange,
  type Entry,
  type HardState,
  type SnapshotMeta,
  type Role,
  type RaftErrorCode,
  type PlantedBugs,
} from './types.js';
