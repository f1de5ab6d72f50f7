import type { FSM } from '../fsm.js';
import type { Entry } from '../types.js';

/** The workload's commands. Every command is unique (puts carry unique values, log reads an id). */
export type KvCommand = { op: 'put'; key: string; value: string } | { op: 'get'; key: string; id: string };

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(new TextDecoder().decode(data)) as KvCommand;
}

/**
 * The replicated state machine the simulator runs: a string map. It remembers the index of the last
 * entry applied (also across snapshots) so it can tell its observer, and so a later apply at an
 * older index is noticed as a violation rather than silently accepted.
 */
export class KvFsm implements FSM {
  private data = new Map<string, string>();
  private lastApplied = 0;

  constructor(private readonly onApply: (entry: Entry, previouslyApplied: number) => void) {}

  apply(entry: Entry): unknown {
    this.onApply(entry, this.lastApplied);
    this.lastApplied = entry.index;
    const cmd = decodeCommand(entry.data);
    if (cmd.op === 'put') {
      this.data.set(cmd.key, cmd.value);
      return undefined;
    }
    return this.data.get(cmd.key);
  }

  read(key: string): string | undefined {
    return this.data.get(key);
  }

  /** The whole state as a canonical string, to compare servers at the end of a run. */
  digest(): string {
    return JSON.stringify([...this.data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ lastApplied: this.lastApplied, data: [...this.data.entries()] }));
  }

  restore(bytes: Uint8Array): void {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { lastApplied: number; data: [string, string][] };
    this.lastApplied = parsed.lastApplied;
    this.data = new Map(parsed.data);
  }
}
