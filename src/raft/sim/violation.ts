/** A broken invariant: which checker caught it and what it saw. */
export interface Violation {
  checker: string;
  description: string;
}

/** Thrown by a checker to stop the run at the event that broke an invariant. */
export class ViolationError extends Error {
  constructor(readonly violation: Violation) {
    super(`${violation.checker}: ${violation.description}`);
    this.name = 'ViolationError';
  }
}

export function violation(checker: string, description: string): ViolationError {
  return new ViolationError({ checker, description });
}
