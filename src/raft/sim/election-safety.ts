import type { ServerView } from './server-view.js';
import { violation } from './violation.js';

/** Election safety: at most one server is ever leader in a given term. */
export class ElectionSafety {
  private readonly leaders = new Map<number, string>();

  check(view: ServerView): void {
    if (view.status.role !== 'leader') return;
    const term = view.status.term;
    const known = this.leaders.get(term);
    if (known === undefined) this.leaders.set(term, view.id);
    else if (known !== view.id) throw violation('election safety', `${known} and ${view.id} were both leader in term ${term}`);
  }
}
