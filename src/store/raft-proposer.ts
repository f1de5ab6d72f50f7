/**
 * Proposes store batches through a RaftNode, and confirms reads with its read index. A manager
 * that is not the leader refuses with NotLeaderError naming the leader it knows of, so the control
 * API can forward the request.
 */
import type { RaftNode } from '../raft/node.js';
import { RaftError } from '../raft/types.js';
import { NotLeaderError, type Proposer } from './types.js';

export class RaftProposer implements Proposer {
  /** `timeoutMs` bounds each proposal and read; 0 waits until it is applied or leadership is lost. */
  constructor(
    private readonly node: Pick<RaftNode, 'apply' | 'readIndex'>,
    private readonly timeoutMs = 0,
  ) {}

  async propose(data: Uint8Array): Promise<{ index: number; response: unknown }> {
    try {
      return await this.node.apply(data, this.timeoutMs);
    } catch (err) {
      throw notLeader(err, 'NotLeader');
    }
  }

  /**
   * Resolves once a quorum has confirmed this server still leads and the store has applied all
   * that was committed before the call. Leadership lost while confirming, or no quorum answering
   * in time, is a refusal too: nothing was read, so the read may be tried elsewhere.
   */
  async confirmRead(): Promise<void> {
    try {
      await this.node.readIndex(this.timeoutMs);
    } catch (err) {
      if (err instanceof RaftError && err.code === 'Timeout') throw new NotLeaderError('no quorum confirmed this manager as leader in time');
      throw notLeader(err, 'NotLeader', 'LeadershipLost');
    }
  }
}

/** The Raft refusals that mean "not the leader" as NotLeaderError; other errors as they are. */
function notLeader(err: unknown, ...codes: RaftError['code'][]): unknown {
  return err instanceof RaftError && codes.includes(err.code) ? new NotLeaderError(err.message, err.leader) : err;
}
