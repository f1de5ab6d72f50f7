/** One-line construction of a real store over FakeProposer, for the unit tests of any module. */
import type { Logger } from '../../common/logger.js';
import { StoreFsm } from '../fsm.js';
import { ReplicatedStore } from '../replicated-store.js';
import { FakeProposer } from './fake-proposer.js';

export interface TestStoreOptions {
  /** Wall clock for createdAt/updatedAt; default Date.now. */
  now?: () => number;
  logger?: Logger;
}

export function createTestStore(opts: TestStoreOptions = {}): { store: ReplicatedStore; proposer: FakeProposer; fsm: StoreFsm } {
  const fsm = new StoreFsm({ logger: opts.logger });
  const proposer = new FakeProposer(fsm);
  const store = new ReplicatedStore({ fsm, proposer, now: opts.now });
  return { store, proposer, fsm };
}
