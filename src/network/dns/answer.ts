/**
 * The answer to one query from one container, by Docker's rules for names of the cluster; a name
 * that is not the cluster's is NOT_OURS, for the resolver to forward to the node's nameservers (or
 * refuse, when it has none).
 *
 * - not a standard query (opcode other than QUERY): NOTIMP;
 * - not exactly one question: FORMERR;
 * - a class other than IN (or ANY), a container the view does not know: REFUSED (nothing is
 *   forwarded for a container the view does not know yet: it may be asking for a cluster name);
 * - a name no service, alias or task has: NOT_OURS;
 * - a name of the cluster's on none of the container's networks: NXDOMAIN;
 * - otherwise NOERROR, with A records for an A query (several shuffled per answer, as Docker does
 *   for dnsrr and tasks.NAME) and none for any other type (NODATA, so an AAAA lookup ends at once
 *   and the client goes on with the A records).
 *
 * A PTR query for `D.C.B.A.in-addr.arpa` is answered by the same rules from the addresses the
 * cluster gave out: a task's address points to its task name, a VIP to its service's name; one of
 * the cluster's addresses on none of the container's networks is NXDOMAIN, any other NOT_OURS.
 */
import type { Random } from '../../common/random.js';
import type { ServiceDiscovery } from './discovery.js';
import { aRecord, DNS_FLAG, DNS_RCODE, DNS_TYPE, ptrRecord, responseFlags, type DnsMessage, type DnsQuestion } from './wire.js';

export interface AnswerSettings {
  /** TTL of a virtual IP: it lives as long as its service. */
  vipTtl: number;
  /** TTL of task addresses, which change with every replaced task. */
  taskTtl: number;
  random: Random;
}

/** A name the cluster does not have: the resolver's to forward or refuse. */
export const NOT_OURS = 'not-ours';

const OPCODE_QUERY = 0;
const CLASS_IN = 1;
const CLASS_ANY = 255;

export function answerQuery(query: DnsMessage, containerId: string, discovery: ServiceDiscovery, settings: AnswerSettings): DnsMessage | typeof NOT_OURS {
  const reply = (rcode: number, extra = 0, answers: DnsMessage['answers'] = []): DnsMessage => ({ ...emptyAnswer(query, rcode, extra), answers });
  if (((query.flags >> 11) & 0xf) !== OPCODE_QUERY) return reply(DNS_RCODE.NOTIMP);
  if (query.questions.length !== 1) return reply(DNS_RCODE.FORMERR);
  const question: DnsQuestion = query.questions[0];
  if (question.class !== CLASS_IN && question.class !== CLASS_ANY) return reply(DNS_RCODE.REFUSED);

  // What the view says when it has nothing to give, for names and addresses alike.
  const notFound = (kind: 'unknown-container' | 'not-ours' | 'not-shared'): DnsMessage | typeof NOT_OURS =>
    kind === 'not-ours' ? NOT_OURS : kind === 'not-shared' ? reply(DNS_RCODE.NXDOMAIN, DNS_FLAG.AA) : reply(DNS_RCODE.REFUSED);

  const reverse = question.type === DNS_TYPE.PTR ? reverseAddress(question.name) : undefined;
  if (reverse !== undefined) {
    const owner = discovery.lookupAddress(containerId, reverse);
    if (owner.kind !== 'found') return notFound(owner.kind);
    return reply(DNS_RCODE.NOERROR, DNS_FLAG.AA, [ptrRecord(question.name, owner.vip ? settings.vipTtl : settings.taskTtl, owner.name)]);
  }

  const found = discovery.lookup(containerId, question.name);
  if (found.kind !== 'found') return notFound(found.kind);
  if (question.type !== DNS_TYPE.A) return reply(DNS_RCODE.NOERROR, DNS_FLAG.AA);
  const ttl = found.vip ? settings.vipTtl : settings.taskTtl;
  // The name as asked, so a client that varies its case (DNS 0x20) finds its own back.
  const records = shuffled(found.addresses, settings.random)
    .slice(0, maxAnswers(question.name))
    .map((a) => aRecord(question.name, ttl, a));
  return reply(DNS_RCODE.NOERROR, DNS_FLAG.AA, records);
}

/** The IPv4 address `D.C.B.A.in-addr.arpa` stands for, or undefined for any other name. */
function reverseAddress(name: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa\.?$/i.exec(name);
  if (!match || match.slice(1).some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith('0')))) return undefined;
  return match.slice(1).reverse().map(Number).join('.');
}

/** The answer to a frame that is not a DNS message, though long enough to hold a header. */
export function formatError(frame: Buffer): DnsMessage {
  return {
    id: frame.readUInt16BE(0),
    flags: responseFlags(frame.readUInt16BE(2), DNS_RCODE.FORMERR),
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

/** `rcode` and no records, the question repeated (stub resolvers match answers by it). */
export function emptyAnswer(query: DnsMessage, rcode: number, extraFlags = 0): DnsMessage {
  return { id: query.id, flags: responseFlags(query.flags, rcode) | extraFlags, questions: query.questions, answers: [], authorities: [], additionals: [] };
}

/**
 * How many A records for `name` fit in one message (65535 bytes, names uncompressed): a service with
 * thousands of tasks gets as many of them as fit, a different sample each time, as Docker trims.
 */
function maxAnswers(name: string): number {
  const encodedName = name.replace(/\.$/, '').length + 2;
  return Math.floor((65535 - 12 - (encodedName + 4)) / (encodedName + 14));
}

function shuffled(items: readonly string[], random: Random): string[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
