/**
 * How the control API finds the object a caller names: a full id, then a name (a service's name, a
 * node's hostname), then a unique id prefix, as docker resolves `docker service inspect web`.
 */
import { status } from '@grpc/grpc-js';
import type { Network, Node, Service, Task } from '../../../proto/gen/objects.js';
import type { ReadTx } from '../../store/types.js';
import { ControlError } from './control-errors.js';

export function findService(tx: ReadTx, ref: string): Service {
  requireRef('service', ref);
  const found = tx.services.get(ref) ?? tx.services.byName(ref);
  return found ?? uniqueByPrefix('service', ref, tx.services.all());
}

export function findNode(tx: ReadTx, ref: string): Node {
  requireRef('node', ref);
  const byId = tx.nodes.get(ref);
  if (byId !== undefined) return byId;
  const all = tx.nodes.all();
  // Hostnames are not unique (a node may re-register under a new id): two matches are ambiguous.
  const byHostname = all.filter((node) => node.description?.hostname === ref);
  if (byHostname.length === 1) return byHostname[0];
  if (byHostname.length > 1) throw ambiguous('node', ref, byHostname.length);
  return uniqueByPrefix('node', ref, all);
}

export function findTask(tx: ReadTx, ref: string): Task {
  requireRef('task', ref);
  return tx.tasks.get(ref) ?? uniqueByPrefix('task', ref, tx.tasks.all());
}

export function findNetwork(tx: ReadTx, ref: string): Network {
  requireRef('network', ref);
  const found = tx.networks.get(ref) ?? networkByName(tx, ref);
  return found ?? uniqueByPrefix('network', ref, tx.networks.all());
}

/** Network names are unique (the control API refuses a second one), so a scan finds at most one. */
export function networkByName(tx: ReadTx, name: string): Network | undefined {
  return tx.networks.all().find((n) => n.spec?.annotations?.name === name);
}

export function notFound(kind: string, ref: string): ControlError {
  return new ControlError(status.NOT_FOUND, `${kind} ${ref} not found`);
}

function requireRef(kind: string, ref: string): void {
  if (ref === '') throw new ControlError(status.INVALID_ARGUMENT, `a ${kind} id or name is required`);
}

function uniqueByPrefix<T extends { meta?: { id: string } }>(kind: string, prefix: string, objects: T[]): T {
  const matches = objects.filter((obj) => obj.meta?.id.startsWith(prefix));
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) throw notFound(kind, prefix);
  throw ambiguous(kind, prefix, matches.length);
}

function ambiguous(kind: string, ref: string, count: number): ControlError {
  return new ControlError(status.FAILED_PRECONDITION, `${kind} ${ref} is ambiguous (${count} ${kind}s match); use a longer id`);
}
