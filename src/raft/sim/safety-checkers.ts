import type { Entry, Message } from '../types.js';
import { ApplySafety } from './apply-safety.js';
import { DurabilityChecker } from './durability-checker.js';
import { ElectionSafety } from './election-safety.js';
import { LogSafety } from './log-safety.js';
import type { ServerView } from './server-view.js';
import { ViolationError, type Violation } from './violation.js';

/**
 * Every safety checker behind one face. Hooks called from inside a RaftNode (FSM apply, transport
 * send) must not throw into it, where an error would become a fail-stop, so they only record the
 * first violation; the simulator raises it once the event is over.
 */
export class SafetyCheckers {
  readonly election = new ElectionSafety();
  readonly log = new LogSafety();
  readonly apply = new ApplySafety();
  readonly durability = new DurabilityChecker();
  private first: Violation | undefined;

  /** The first violation recorded by a hook, if any. */
  get recorded(): Violation | undefined {
    return this.first;
  }

  /** Runs a check from inside a node or a client callback, recording instead of throwing. */
  guard(check: () => void): void {
    try {
      check();
    } catch (err) {
      if (!(err instanceof ViolationError)) throw err;
      this.first ??= err.violation;
    }
  }

  /** After every event: the invariants over every running server. Throws ViolationError. */
  afterEvent(views: readonly ServerView[]): void {
    if (this.first !== undefined) throw new ViolationError(this.first);
    for (const v of views) {
      this.election.check(v);
      this.log.check(v);
    }
  }

  onApply(server: string, entry: Entry, previouslyApplied: number): void {
    this.guard(() => this.apply.onApply(server, entry, previouslyApplied));
  }

  onSend(server: string, msg: Message, entryTerm: (index: number) => number | undefined): void {
    this.guard(() => this.durability.onSend(server, msg, entryTerm));
  }

  onAcknowledgedWrite(opId: number, index: number, command: Uint8Array): void {
    this.guard(() => this.apply.onAcknowledgedWrite(opId, index, command));
  }
}
