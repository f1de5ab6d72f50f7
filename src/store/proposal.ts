/**
 * What `update` proposes: the encoded StoreTransaction, and — for the FSM on this manager — the
 * objects decoding it would give, so the entry need not be decoded again when it applies here (see
 * fsm.ts `expectLocal`). At 100,000s of tasks, decoding one's own entries costs more than anything
 * else the store does.
 *
 * Every manager must end up in the same state, so:
 * - The copy is exact: made only of values that survive the wire unchanged (whole numbers within
 *   range, strings without surrogates, plain label maps). Anything else means no copy, and the FSM
 *   decodes that transaction as a follower would.
 * - Nothing of the writer's is kept. A sub-object is shared only if the store already owns it (the
 *   stored task's spec, status or annotations, or the stored service's task spec): stored objects
 *   are never mutated, and they are exact already. Any other spec is copied through its own encode
 *   and decode; equal annotations within one transaction share one copy.
 * - Only tasks take this path (they are what there are 100,000s of). The copier knows Task's
 *   fields by name, so it checks at load that the generated messages still have exactly those
 *   fields and disables itself if not (a new field would otherwise be dropped on the leader only).
 *
 * (Writing kept encodings of shared specs instead of encoding them again was tried: for specs of a
 * few dozen bytes the hand-written framing cost as much as it saved.)
 */
import { Annotations, Endpoint, Meta, NetworkAttachment, Task, TaskSpec, TaskStatus } from '../../proto/gen/objects.js';
import { StoreTransaction, type StoreChange } from '../../proto/gen/store.js';
import type { StoreState } from './state.js';

/** The fields the copier writes, in the generated decoder's order (so even key order matches). */
export const COPIED_FIELDS = {
  task: ['meta', 'serviceId', 'slot', 'nodeId', 'spec', 'specVersion', 'serviceAnnotations', 'desiredState', 'status', 'networks', 'endpoint'],
  meta: ['id', 'version', 'createdAt', 'updatedAt'],
  status: ['state', 'timestamp', 'message', 'err', 'exitCode', 'health', 'containerId', 'pid'],
  annotations: ['name', 'labels'],
} as const;

/** Whether the generated messages still have exactly the fields above, in that order. */
export function copierMatchesSchema(): boolean {
  const same = (base: object, fields: readonly string[]): boolean => Object.keys(base).join() === fields.join();
  return (
    same(Task.fromPartial({}), COPIED_FIELDS.task) &&
    same(Meta.fromPartial({}), COPIED_FIELDS.meta) &&
    same(TaskStatus.fromPartial({}), COPIED_FIELDS.status) &&
    same(Annotations.fromPartial({}), COPIED_FIELDS.annotations)
  );
}

const ENABLED = copierMatchesSchema();

/** Thrown (one shared instance: no stack to capture each time) when a value would not survive the wire unchanged. */
const NOT_EXACT = new Error('not exactly representable on the wire');

export interface Proposal {
  /** The encoded StoreTransaction. */
  bytes: Uint8Array;
  /** Exactly what `StoreTransaction.decode(bytes)` gives, when known. */
  copy: StoreTransaction | undefined;
}

/** Encodes `{ changes, timestamp }`; `state` is the applied state, whose objects the copy may share. */
export function encodeProposal(changes: StoreChange[], timestamp: number, state: StoreState): Proposal {
  return { bytes: StoreTransaction.encode({ changes, timestamp }).finish(), copy: ENABLED ? copyOf(changes, timestamp, state) : undefined };
}

function copyOf(changes: readonly StoreChange[], timestamp: number, state: StoreState): StoreTransaction | undefined {
  const copier = new TaskCopier(state);
  const copied: StoreChange[] = [];
  try {
    for (const change of changes) {
      const o = change.object?.object;
      if (o?.$case !== 'task') return undefined;
      copied.push({ kind: change.kind, object: { object: { $case: 'task', task: copier.task(o.task) } } });
    }
    return { changes: copied, timestamp: int64(timestamp) };
  } catch (err) {
    if (err === NOT_EXACT) return undefined;
    throw err;
  }
}

/** Makes the exact copies of one transaction's tasks (see the file comment). */
class TaskCopier {
  /** Specs copied in this transaction, by the writer's object: 500 new tasks of a service often share one. */
  private readonly specs = new Map<TaskSpec, TaskSpec>();
  /** The last annotations copied: new tasks of one service carry equal ones, which can share a copy. */
  private lastAnnotations: Annotations | undefined;
  private readonly tasks: Map<string, Task>;

  constructor(private readonly state: StoreState) {
    this.tasks = state.table('task');
  }

  task(t: Task): Task {
    const stored = this.tasks.get(t.meta?.id ?? '');
    return {
      meta: t.meta === undefined ? undefined : this.meta(t.meta, stored?.meta),
      serviceId: this.string(t.serviceId, stored?.serviceId),
      slot: uint64(t.slot),
      nodeId: this.string(t.nodeId, stored?.nodeId),
      spec: t.spec === undefined ? undefined : this.spec(t.spec, stored, t.serviceId),
      specVersion: uint64(t.specVersion),
      serviceAnnotations:
        t.serviceAnnotations === undefined || t.serviceAnnotations === stored?.serviceAnnotations
          ? t.serviceAnnotations
          : this.annotations(t.serviceAnnotations),
      desiredState: int32(t.desiredState),
      status: t.status === undefined || t.status === stored?.status ? t.status : this.status(t.status, stored?.status),
      // Rarely written, so copied the simple way: through their own codecs.
      networks: t.networks === stored?.networks ? t.networks : t.networks.map((a) => NetworkAttachment.decode(NetworkAttachment.encode(a).finish())),
      endpoint: t.endpoint === undefined || t.endpoint === stored?.endpoint ? t.endpoint : Endpoint.decode(Endpoint.encode(t.endpoint).finish()),
    };
  }

  private meta(m: Meta, stored: Meta | undefined): Meta {
    return { id: this.string(m.id, stored?.id), version: uint64(m.version), createdAt: int64(m.createdAt), updatedAt: int64(m.updatedAt) };
  }

  private spec(spec: TaskSpec, stored: Task | undefined, serviceId: string): TaskSpec {
    if (spec === stored?.spec) return spec;
    if (spec === this.state.table('service').get(serviceId)?.spec?.task) return spec;
    let copy = this.specs.get(spec);
    if (copy === undefined) {
      // Exact by construction: the same bytes the entry carries for it.
      copy = TaskSpec.decode(TaskSpec.encode(spec).finish());
      this.specs.set(spec, copy);
    }
    return copy;
  }

  private status(s: TaskStatus, stored: TaskStatus | undefined): TaskStatus {
    return {
      state: int32(s.state),
      timestamp: int64(s.timestamp),
      message: this.string(s.message, stored?.message),
      err: this.string(s.err, stored?.err),
      exitCode: int32(s.exitCode),
      health: int32(s.health),
      containerId: this.string(s.containerId, stored?.containerId),
      pid: int32(s.pid),
    };
  }

  private annotations(a: Annotations): Annotations {
    const last = this.lastAnnotations;
    if (last !== undefined && last.name === a.name && sameLabels(last.labels, a.labels)) return last;
    const labels: Record<string, string> = {};
    for (const key of Object.keys(a.labels)) {
      // The decoder assigns `labels[key] = value`: for this key that would set the prototype instead.
      if (key === '__proto__') throw NOT_EXACT;
      labels[this.string(key)] = this.string(a.labels[key]);
    }
    this.lastAnnotations = { name: this.string(a.name), labels };
    return this.lastAnnotations;
  }

  /** `known` is the stored object's value for the same field: stored strings are exact already. */
  private string(v: unknown, known?: string): string {
    if (typeof v !== 'string') throw NOT_EXACT;
    // Surrogates (paired or not) are left to the real codec: lone ones do not survive UTF-8.
    if (v !== known && v !== '' && SURROGATE.test(v)) throw NOT_EXACT;
    return v;
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Same keys in the same order (the order decoding would give), with the same values. */
function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  const other = Object.keys(b);
  if (keys.length !== other.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== other[i] || a[keys[i]!] !== b[keys[i]!]) return false;
  return true;
}

/** `+ 0` turns -0 (written as nothing, read back as 0) into 0. */
function int32(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw NOT_EXACT;
  return v + 0;
}

function int64(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw NOT_EXACT;
  return v + 0;
}

function uint64(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw NOT_EXACT;
  return v + 0;
}
