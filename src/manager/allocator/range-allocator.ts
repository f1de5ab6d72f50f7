/**
 * Hands out whole numbers from an inclusive range: VNIs, published ports, the host part of
 * addresses. Next-fit: each allocation starts after the previous one and wraps around, so a value
 * just released is the last to be handed out again (a task's old address or port is not reused
 * while peers may still have it cached).
 *
 * The allocator holds no truth of its own: a new leader rebuilds it from the store with reserve().
 */
export class RangeAllocator {
  private readonly used = new Set<number>();
  private cursor: number;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) throw new Error(`invalid range ${min}-${max}`);
    this.cursor = min;
  }

  get size(): number {
    return this.max - this.min + 1;
  }

  get usedCount(): number {
    return this.used.size;
  }

  inRange(value: number): boolean {
    return Number.isInteger(value) && value >= this.min && value <= this.max;
  }

  isFree(value: number): boolean {
    return this.inRange(value) && !this.used.has(value);
  }

  /** The next free value, or undefined when the range is exhausted. */
  allocate(): number | undefined {
    if (this.used.size >= this.size) return undefined;
    for (let i = 0; i < this.size; i++) {
      const value = this.cursor;
      this.cursor = value === this.max ? this.min : value + 1;
      if (!this.used.has(value)) {
        this.used.add(value);
        return value;
      }
    }
    return undefined;
  }

  /** Marks a value as taken (a specific port asked for, or one found in the store); false if it already was or is out of range. */
  reserve(value: number): boolean {
    if (!this.isFree(value)) return false;
    this.used.add(value);
    return true;
  }

  release(value: number): void {
    this.used.delete(value);
  }
}
