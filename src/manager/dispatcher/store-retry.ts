/**
 * A store write that re-reads and retries when another write got in between (StoreConflictError).
 * The dispatcher's writes are all "read the object, change a field": safe to redo on fresh state.
 */
import { StoreConflictError, type Store, type WriteTx } from '../../store/types.js';

const DEFAULT_ATTEMPTS = 5;

export async function updateWithRetry<T>(store: Store, fn: (tx: WriteTx) => T, attempts = DEFAULT_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.update(fn);
    } catch (err) {
      if (!(err instanceof StoreConflictError) || attempt >= attempts) throw err;
    }
  }
}
