import { RaftError, type Configuration, type ConfigurationChange, type ServerId } from '../types.js';
import { voterIds } from './quorum.js';

export interface ConfigurationRecord {
  /** The index of the entry that carried the configuration (0 for none). */
  index: number;
  configuration: Configuration;
}

/**
 * The configurations a server may still need: the newest one is in force (committed or not, as in
 * the thesis, ch. 4); older ones are kept so a log truncation can fall back to the previous one and so
 * a snapshot can record the configuration at its index.
 */
export class ConfigurationHistory {
  private records: ConfigurationRecord[];

  constructor(base: ConfigurationRecord) {
    this.records = [base];
  }

  latest(): ConfigurationRecord {
    return this.records[this.records.length - 1];
  }

  /** The configuration the latest one replaced, when still known. */
  previous(): ConfigurationRecord | undefined {
    return this.records[this.records.length - 2];
  }

  /** The configuration in force at index: the newest record at or below it. */
  at(index: number): ConfigurationRecord {
    for (let i = this.records.length - 1; i > 0; i--) {
      if (this.records[i].index <= index) return this.records[i];
    }
    return this.records[0];
  }

  add(record: ConfigurationRecord): void {
    this.records.push(record);
  }

  /** The log was truncated from index on: forget configurations carried by the removed entries. */
  truncateFrom(index: number): void {
    while (this.records.length > 1 && this.latest().index >= index) this.records.pop();
  }

  /** Nothing will ask about indexes below upTo any more: keep only what is in force from there on. */
  prune(upTo: number): void {
    let keepFrom = 0;
    for (let i = 1; i < this.records.length && this.records[i].index <= upTo; i++) keepFrom = i;
    if (keepFrom > 0) this.records = this.records.slice(keepFrom);
  }

  reset(base: ConfigurationRecord): void {
    this.records = [base];
  }
}

/**
 * Applies a single-server change, hashicorp style: adding a server that is already present updates
 * its suffrage and address. Throws UnknownServer for demoting or removing an absent server, and
 * InvalidArgument when no voter would be left.
 */
export function applyConfigurationChange(current: Configuration, change: ConfigurationChange): Configuration {
  const servers = current.servers.map((s) => ({ ...s }));
  const existing = servers.find((s) => s.id === change.id);
  switch (change.kind) {
    case 'addVoter':
    case 'addNonvoter': {
      const suffrage = change.kind === 'addVoter' ? 'voter' : 'nonvoter';
      if (existing) {
        existing.suffrage = suffrage;
        existing.address = change.address;
      } else {
        servers.push({ id: change.id, address: change.address, suffrage });
      }
      break;
    }
    case 'demoteVoter':
      if (!existing) throw unknownServer(change.id);
      existing.suffrage = 'nonvoter';
      break;
    case 'removeServer':
      if (!existing) throw unknownServer(change.id);
      servers.splice(servers.indexOf(existing), 1);
      break;
  }
  const next = { servers };
  if (voterIds(next).length === 0) {
    throw new RaftError('InvalidArgument', 'a configuration needs at least one voter');
  }
  return next;
}

function unknownServer(id: ServerId): RaftError {
  return new RaftError('UnknownServer', `server ${id} is not in the configuration`);
}
