/**
 * Proposes store batches through a RaftNode. A manager that is not the leader refuses with
 * NotLeaderError naming the leader it knows of, so the control API can forward the request.
 */
import type { RaftNode } from '../raft/node.js';
import { RaftError } from '../raft/types.js';
import { NotLeaderError, type Proposer } from './types.js';

export class RaftProposer implements Proposer {
  /** `timeoutMs` bounds each proposal; 0 waits until it is applied or leadership is lost. */
  constructor(
    private readonly node: Pick<RaftNode, 'apply'>,
    private readonly timeoutMs = 0,
  ) {}

  async propose(data: Uint8Array): Promise<{ index: number; response: unknown }> {
    try {
      return await this.node.apply(data, this.timeoutMs);
    } catch (err) {
      if (err instanceof RaftError && err.code === 'NotLeader') throw new NotLeaderError(err.message, err.leader);
      throw err;
    }
  }
}
