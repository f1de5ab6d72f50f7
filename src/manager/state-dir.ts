/**
 * A manager's state directory: `node-id` (this manager's id, chosen once) and `raft/` (the WAL,
 * the term-and-vote file and the snapshots). The same directory on restart resumes the same member.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newId } from '../common/ids.js';

export interface StateDirLayout {
  root: string;
  wal: string;
  stable: string;
  snapshots: string;
}

export function stateDirLayout(root: string): StateDirLayout {
  return { root, wal: join(root, 'raft', 'wal'), stable: join(root, 'raft', 'stable'), snapshots: join(root, 'raft', 'snapshots') };
}

/** Node ids are what Raft and the CLI name a manager by: keep them short and shell-safe. */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * This manager's id: the one recorded in the state directory, else `requested`, else a new one;
 * recorded on first use. A `requested` id that differs from the recorded one is refused, since the
 * Raft state on disk belongs to the recorded member.
 */
export function loadNodeId(root: string, requested?: string): string {
  if (requested !== undefined && !NODE_ID.test(requested)) {
    throw new Error(`--node-id "${requested}": use 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const file = join(root, 'node-id');
  if (existsSync(file)) {
    const recorded = readFileSync(file, 'utf8').trim();
    if (!NODE_ID.test(recorded)) throw new Error(`${file} does not hold a valid node id`);
    if (requested !== undefined && requested !== recorded) {
      throw new Error(`--node-id ${requested} conflicts with ${recorded}, recorded in ${file}`);
    }
    return recorded;
  }
  const id = requested ?? newId();
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
