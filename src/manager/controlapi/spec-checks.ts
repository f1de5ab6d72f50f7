/** Small field checks shared by the service and node spec validators. */
import { InvalidSpecError } from './invalid-spec-error.js';

/** Counts, durations in ms and byte sizes: whole numbers, never negative. */
export function checkNonNegativeInteger(field: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new InvalidSpecError(field, `${value}: must be a whole number`);
  if (value < 0) throw new InvalidSpecError(field, `${value}: must not be negative`);
}

/**
 * Proto3 enums are open: a decoded message may carry a number the schema does not name. ts-proto's
 * enums also name UNRECOGNIZED as -1, which is never a valid value either.
 */
export function checkEnum(field: string, enumObject: Record<string, string | number>, value: number): void {
  if (value >= 0 && typeof enumObject[value] === 'string') return;
  const names = Object.keys(enumObject).filter((k) => Number.isNaN(Number(k)) && (enumObject[k] as number) >= 0);
  throw new InvalidSpecError(field, `${value}: must be one of ${names.join(', ')}`);
}

export function checkLabels(field: string, labels: Record<string, string>): void {
  if (Object.keys(labels).some((key) => key.trim() === '')) throw new InvalidSpecError(field, 'a label key is empty');
}
