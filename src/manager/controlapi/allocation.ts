/**
 * How the control API allocates: against the leader's allocator of the current term (read inside
 * the transaction that writes the result), giving back what it took when the write certainly did
 * not happen. After an uncertain failure (a timeout, leadership lost mid-commit) nothing is given
 * back: the allocation may be in the store, and the next leader's rebuild settles it.
 */
import { status } from '@grpc/grpc-js';
import { RaftError } from '../../raft/types.js';
import type { AllocatorAccess } from '../allocator/allocator-access.js';
import type { AllocatorState } from '../allocator/allocator-state.js';
import { ControlError } from './control-errors.js';

/** How long a call waits for a new leader's allocator to be rebuilt before answering UNAVAILABLE. */
const ALLOCATOR_WAIT_MS = 5000;

export async function allocatorReady(access: AllocatorAccess | undefined): Promise<void> {
  if (access === undefined || !(await access.ready(ALLOCATOR_WAIT_MS))) throw notReady();
}

/** The allocator to use inside a transaction. */
export function currentAllocator(access: AllocatorAccess | undefined): AllocatorState {
  const state = access?.current();
  if (state === undefined) throw notReady();
  return state;
}

/** Runs `write`, calling the undo it registered if the write certainly did not apply. */
export async function withUndo<T>(write: (onUndo: (undo: () => void) => void) => Promise<T>): Promise<T> {
  const undos: (() => void)[] = [];
  try {
    return await write((undo) => undos.push(undo));
  } catch (err) {
    if (!(err instanceof RaftError) || err.code === 'NotLeader') for (const undo of undos.reverse()) undo();
    throw err;
  }
}

function notReady(): ControlError {
  return new ControlError(status.UNAVAILABLE, 'the network allocator is not running on this manager yet; try again');
}
