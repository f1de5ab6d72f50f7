/**
 * A manager's state directory: `node-credentials.pem` (its key and certificate, which name its node
 * id, see manager-identity.ts) and `raft/` (the WAL, the term-and-vote file and the snapshots). The
 * same directory on restart resumes the same member.
 */
import { join } from 'node:path';

export interface StateDirLayout {
  root: string;
  wal: string;
  stable: string;
  snapshots: string;
}

export function stateDirLayout(root: string): StateDirLayout {
  return { root, wal: join(root, 'raft', 'wal'), stable: join(root, 'raft', 'stable'), snapshots: join(root, 'raft', 'snapshots') };
}
