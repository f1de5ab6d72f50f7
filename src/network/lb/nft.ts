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
 *
 * A write that drops a DNAT target (a backend) deletes the UDP conntrack entries translated to it,
 * which would otherwise keep a client that sends from one port on that backend (`conntrack.ts`).
 */
import { createHash } from 'node:crypto';
import { CommandError, runCommand } from '../overlay/command.js';
import type { Netns } from '../overlay/iproute.js';
import { deleteUdpFlows } from './conntrack.js';
import { inNamespace } from './namespace.js';
import { sortedAddresses } from './values.js';

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

/** `nft list table ip NAME`, or undefined when there is no such table. */
async function listTable(ns: Netns, name: string): Promise<string | undefined> {
  checkTableName(name);
  try {
    return await nft(ns, ['list', 'table', 'ip', name]);
  } catch (err) {
    if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) return undefined;
    throw err;
  }
}

/**
 * Writes the table unless it already holds exactly this; returns whether it wrote. Then deletes the
 * UDP flows of every address the old table DNATed to and the new one does not (see
 * `conntrack.ts`): the old targets are read from the same listing as the digest, the new ones from
 * the table being written, so nothing is kept in memory and a write costs no extra read. An
 * address any rule of the new table still DNATs to keeps its flows. After the write, not before: a
 * datagram in between would be translated by the old rules again.
 */
export async function applyTable(ns: Netns, table: NftTable): Promise<boolean> {
  const current = await listTable(ns, table.name);
  if (current !== undefined && DIGEST_COMMENT.exec(current)?.[1] === tableDigest(table)) return false;
  await nft(ns, ['-f', '-'], replaceTableScript(table));
  const kept = new Set(dnatTargets(table.body));
  await deleteUdpFlows(ns, dnatTargets(current ?? '').filter((address) => !kept.has(address)));
  return true;
}

/** Removes the table if it is there (creating it first makes the delete succeed either way, in one transaction). */
export async function removeTable(ns: Netns, name: string): Promise<void> {
  checkTableName(name);
  await nft(ns, ['-f', '-'], `table ip ${name}\ndelete table ip ${name}\n`);
}

/**
 * The addresses a table's rules DNAT to, distinct and in numeric order, from its text in nft's
 * syntax: what `nft list table` prints, or the body `applyTable` writes. Every address after a
 * `dnat to` on its line: one address (the sandbox, a host-mode task, with or without a port) or the
 * values of a round-robin map. Matches, vmaps and sets (the VIPs themselves) come before it or on
 * lines without one.
 */
export function dnatTargets(text: string): string[] {
  const found = text.split('\n').flatMap((line) => {
    const at = line.indexOf('dnat to ');
    return at < 0 ? [] : [...line.slice(at).matchAll(/\b\d+\.\d+\.\d+\.\d+\b/g)].map((m) => m[0]);
  });
  return sortedAddresses(found);
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
