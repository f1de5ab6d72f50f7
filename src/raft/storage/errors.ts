/**
 * Errors that make storage refuse to start rather than serve state it cannot trust: Raft's safety
 * rests on what a server promised to remember, so damaged durable state is fail-stop.
 */

/** A log record that is damaged or out of sequence somewhere other than a torn tail. */
export class WalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`write-ahead log corrupt in ${file} at offset ${offset}: ${reason}`);
    this.name = 'WalCorruptionError';
  }
}

/** A stable-state or snapshot file whose checksums or framing do not verify. */
export class ChecksumError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file} failed verification: ${reason}`);
    this.name = 'ChecksumError';
  }
}
