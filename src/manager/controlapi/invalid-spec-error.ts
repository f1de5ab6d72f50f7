/**
 * A spec the control API refuses. The message always reads `invalid spec: FIELD: PROBLEM`, one
 * line that names the offending field by its JSON path (as `shoal service inspect` shows it), so
 * the CLI can print it as is.
 */
export class InvalidSpecError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`invalid spec: ${field}: ${problem}`);
    this.name = 'InvalidSpecError';
  }
}
