/**
 * nftables tables owned by shoal, in a chosen network namespace: written whole, in one transaction,
 * and only when they differ from what is there; listed and removed by name.
 *
 * A table is replaced with `table X` (creates it if absent) + `delete table X` + `table X {...}` in
 * one `nft -f` run: the kernel applies a run as one transaction, so a packet sees either the old
 * table or the new one, never a half-written one, and connections already translated keep their
 * backend (NAT bindings live in conntrack, not in the rules).
 *
 * What a table was written from is kept as its comment (`shoal:<digest>`), so writing the same
 * table again is a no-op that leaves its rules, handles and round-robin counters alone. The digest
 * vouches for what shoal wrote, not for hand edits made since.
 */
import { createHash } from 'node:crypto';
import { CommandError, runCommand } from '../overlay/command.js';
import type { Netns } from '../overlay/iproute.js';
import { inNamespace } from './namespace.js';

/** Every table shoal writes is in the `ip` family and named `shoal_...`. */
const TABLE_NAME = /^shoal_[a-z0-9_]{1,40}$/;
const DIGEST_COMMENT = /^\s*comment "shoal:([0-9a-f]+)"/m;

export interface NftTable {
  name: string;
  /** The table's contents in nft syntax: sets and chains, without the table line. */
  body: string;
}

/** `nft` in a namespace: a name under /run/netns or a path; this process's own when undefined. */
export function nft(ns: Netns, args: readonly string[], input?: string): Promise<string> {
  return runCommand(inNamespace(ns, ['nft', ...args]), input);
}

export function checkTableName(name: string): void {
  if (!TABLE_NAME.test(name)) throw new Error(`invalid table name "${name}": shoal_ followed by lowercase letters, digits, '_'`);
}

export function tableDigest(table: NftTable): string {
  return createHash('sha256').update(table.name).update('\0').update(table.body).digest('hex').slice(0, 32);
}

/** The whole `nft -f` script that replaces the table atomically. */
export function replaceTableScript(table: NftTable): string {
  checkTableName(table.name);
  const t = `table ip ${table.name}`;
  return `${t}\ndelete ${t}\n${t} {\n\tcomment "shoal:${tableDigest(table)}";\n${table.body}}\n`;
}

/** The digest the table was written with, or undefined when it is absent or was not written by `applyTable`. */
export async function readTableDigest(ns: Netns, name: string): Promise<string | undefined> {
  checkTableName(name);
  try {
    return DIGEST_COMMENT.exec(await nft(ns, ['list', 'table', 'ip', name]))?.[1];
  } catch (err) {
    if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) return undefined;
    throw err;
  }
}

/** Writes the table unless it already holds exactly this; returns whether it wrote. */
export async function applyTable(ns: Netns, table: NftTable): Promise<boolean> {
  if ((await readTableDigest(ns, table.name)) === tableDigest(table)) return false;
  await nft(ns, ['-f', '-'], replaceTableScript(table));
  return true;
}

/** Removes the table if it is there (creating it first makes the delete succeed either way, in one transaction). */
export async function removeTable(ns: Netns, name: string): Promise<void> {
  checkTableName(name);
  await nft(ns, ['-f', '-'], `table ip ${name}\ndelete table ip ${name}\n`);
}

interface NftJsonList {
  nftables: { table?: { family: string; name: string } }[];
}

/** The names of shoal's tables in the namespace. */
export async function listTables(ns: Netns): Promise<string[]> {
  const list = JSON.parse(await nft(ns, ['-j', 'list', 'tables', 'ip'])) as NftJsonList;
  return list.nftables.flatMap((o) => (o.table !== undefined && TABLE_NAME.test(o.table.name) ? [o.table.name] : []));
}

/** Removes shoal's tables that are not wanted (left by an older agent or a removed feature); returns their names. */
export async function removeStaleTables(ns: Netns, wanted: readonly string[]): Promise<string[]> {
  const stale = (await listTables(ns)).filter((name) => !wanted.includes(name));
  for (const name of stale) await removeTable(ns, name);
  return stale;
}
