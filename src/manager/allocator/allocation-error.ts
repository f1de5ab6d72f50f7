/**
 * A request the allocator cannot satisfy: something asked for is held by another object
 * (`conflict`: a subnet, a published port) or a range ran out (`exhausted`: VNIs, a subnet's
 * addresses, the dynamic ports). The message is one line the CLI prints as is.
 */
export class AllocationError extends Error {
  constructor(
    readonly reason: 'conflict' | 'exhausted',
    message: string,
  ) {
    super(message);
    this.name = 'AllocationError';
  }
}
