import type { CoreStatus } from '../core/index.js';
import type { Entry, HardState } from '../types.js';

/** What the checkers read of one live server after an event: the core's own view, not the driver's
 *  (whose role lags the core until its next Ready pass). */
export interface ServerView {
  id: string;
  /** Bumped on every restart; a checker's per-process state is keyed by it. */
  incarnation: number;
  status: CoreStatus & { hardState: HardState };
  entry(index: number): Entry | undefined;
}
