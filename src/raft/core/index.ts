export { RaftCore } from './raft.js';
export type { CoreConfig, CoreInitialState, CoreStatus, ProgressStatus, Ready, SoftState } from './core-types.js';
export { RaftLog } from './log.js';
export { Inflights, Progress, type ProgressState } from './progress.js';
export {
  ConfigurationHistory,
  applyConfigurationChange,
  type ConfigurationRecord,
} from './configuration.js';
export { hasQuorum, isVoter, quorumMatchIndex, quorumSize, voteOutcome, voterIds, type VoteOutcome } from './quorum.js';
export { ReadOnlyQueue } from './read-only.js';
