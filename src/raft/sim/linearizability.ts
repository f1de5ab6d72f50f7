/**
 * Linearizability checking of a key-value history, after Wing & Gong with Lowe's memoization
 * (the algorithm behind Knossos and Porcupine), applied to each key separately: a register history
 * is linearizable iff every key's sub-history is (P-compositionality), and the split keeps searches small.
 *
 * An indeterminate operation (timed out, leader lost, server crashed) may or may not have taken
 * effect: it has no return, so it may be linearized anywhere after its call, including after
 * everything else (which is the same as never).
 */

export interface KvOperation {
  id: number;
  client: number;
  key: string;
  kind: 'put' | 'get';
  /** For a put the value written; for a get the value read (undefined: the key was absent). */
  value: string | undefined;
  call: number;
  /** Completion time, or Infinity when the outcome is unknown. */
  ret: number;
}

export type LinearizabilityResult =
  | { ok: true }
  | { ok: false; key: string; description: string }
  | { ok: 'unknown'; key: string; description: string };

/** Search steps allowed per key before giving up (reported, never passed silently). */
const DEFAULT_STEP_BUDGET = 5_000_000;

export function checkLinearizable(ops: readonly KvOperation[], stepBudget = DEFAULT_STEP_BUDGET): LinearizabilityResult {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  for (const key of [...byKey.keys()].sort()) {
    const result = checkRegister(key, byKey.get(key) ?? [], stepBudget);
    if (result.ok !== true) return result;
  }
  return { ok: true };
}

function checkRegister(key: string, all: KvOperation[], stepBudget: number): LinearizabilityResult {
  const ops = simplify(all);
  const obvious = impossibleRead(ops);
  if (obvious !== undefined) return { ok: false, key, description: obvious };
  const outcome = search(ops, stepBudget);
  if (outcome === 'linearizable') return { ok: true };
  if (outcome === 'exhausted')
    return { ok: 'unknown', key, description: `key ${key}: search budget exhausted over ${ops.length} operations` };
  return { ok: false, key, description: `key ${key}: no linearization of ${ops.length} operations exists` };
}

/**
 * Drops what cannot constrain the search: reads without a result, and indeterminate writes whose
 * (unique) value nobody read. Such a write can always be placed last, and in any linearization it
 * is followed by no read before the next write, so removing it changes nothing.
 */
function simplify(ops: KvOperation[]): KvOperation[] {
  const read = new Set<string>();
  for (const op of ops) if (op.kind === 'get' && op.ret !== Infinity && op.value !== undefined) read.add(op.value);
  return ops.filter((op) => (op.kind === 'get' ? op.ret !== Infinity : op.ret !== Infinity || read.has(op.value ?? '')));
}

/** A read of a value never written, or of a write not yet invoked when the read returned. */
function impossibleRead(ops: KvOperation[]): string | undefined {
  const writes = new Map<string, KvOperation>();
  for (const op of ops) if (op.kind === 'put' && op.value !== undefined) writes.set(op.value, op);
  for (const op of ops) {
    if (op.kind !== 'get' || op.value === undefined) continue;
    const w = writes.get(op.value);
    if (w === undefined) return `key ${op.key}: op ${op.id} read ${op.value}, which no put wrote`;
    if (w.call > op.ret) return `key ${op.key}: op ${op.id} read ${op.value} before put op ${w.id} was invoked`;
  }
  return undefined;
}

interface ListEntry {
  op: KvOperation;
  isCall: boolean;
  /** The call's matching return entry (on call entries). */
  match: ListEntry | undefined;
  index: number;
  prev: ListEntry | undefined;
  next: ListEntry | undefined;
}

type SearchOutcome = 'linearizable' | 'not-linearizable' | 'exhausted';

function search(ops: KvOperation[], stepBudget: number): SearchOutcome {
  const head = buildEntryList(ops);
  const linearized = new Uint32Array(Math.ceil(ops.length / 32) + 1);
  const seen = new Set<string>();
  const calls: { entry: ListEntry; state: string | undefined }[] = [];
  let state: string | undefined = undefined;
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if (++steps > stepBudget) return 'exhausted';
    if (entry !== undefined && entry.isCall) {
      const op = entry.op;
      const allowed = op.kind === 'put' || op.value === state;
      if (allowed) {
        const nextState: string | undefined = op.kind === 'put' ? op.value : state;
        setBit(linearized, entry.index, true);
        const memo = `${nextState ?? '\u0000'}|${linearized.join(',')}`;
        if (!seen.has(memo)) {
          seen.add(memo);
          calls.push({ entry, state });
          state = nextState;
          lift(entry);
          entry = head.next;
          continue;
        }
        setBit(linearized, entry.index, false);
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: undo the most recent choice.
      const last = calls.pop();
      if (last === undefined) return 'not-linearizable';
      state = last.state;
      setBit(linearized, last.entry.index, false);
      unlift(last.entry);
      entry = last.entry.next;
    }
  }
  return 'linearizable';
}

/** Calls and returns in time order; at equal times calls come first, which only adds concurrency. */
function buildEntryList(ops: KvOperation[]): ListEntry {
  const entries: ListEntry[] = [];
  ops.forEach((op, index) => {
    const ret: ListEntry = { op, isCall: false, match: undefined, index, prev: undefined, next: undefined };
    const call: ListEntry = { op, isCall: true, match: ret, index, prev: undefined, next: undefined };
    entries.push(call, ret);
  });
  const time = (e: ListEntry): number => (e.isCall ? e.op.call : e.op.ret);
  entries.sort((a, b) => time(a) - time(b) || Number(b.isCall) - Number(a.isCall) || a.index - b.index);
  const head: ListEntry = { op: ops[0], isCall: false, match: undefined, index: -1, prev: undefined, next: undefined };
  let tail = head;
  for (const e of entries) {
    tail.next = e;
    e.prev = tail;
    tail = e;
  }
  return head;
}

function lift(call: ListEntry): void {
  unlink(call);
  if (call.match !== undefined) unlink(call.match);
}

function unlift(call: ListEntry): void {
  if (call.match !== undefined) relink(call.match);
  relink(call);
}

function unlink(e: ListEntry): void {
  if (e.prev !== undefined) e.prev.next = e.next;
  if (e.next !== undefined) e.next.prev = e.prev;
}

function relink(e: ListEntry): void {
  if (e.prev !== undefined) e.prev.next = e;
  if (e.next !== undefined) e.next.prev = e;
}

function setBit(bits: Uint32Array, i: number, on: boolean): void {
  const word = i >>> 5;
  const mask = 1 << (i & 31);
  bits[word] = on ? bits[word] | mask : bits[word] & ~mask;
}
