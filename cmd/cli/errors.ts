/**
 * The CLI's two kinds of failure, as docker reports them: a usage error (bad flags or arguments,
 * exit 2) and an operational error (the manager refused or could not be reached, exit 1). Both are
 * printed as one line on stderr by the command runner.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}
