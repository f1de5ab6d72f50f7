import type { Entry } from './types.js';

/**
 * The replicated state machine, as in hashicorp/raft. `apply` is called once per committed
 * Command entry, in log order, on every server; what it returns becomes the response of the
 * leader's apply() future. `snapshot` captures the state at the last applied entry; `restore`
 * replaces the whole state with a snapshot's.
 */
export interface FSM {
  apply(entry: Entry): unknown;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}
