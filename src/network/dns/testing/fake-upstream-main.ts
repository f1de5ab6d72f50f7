/**
 * The fake nameserver (fake-upstream.ts) as a process, for tests that need it inside a network
 * namespace of their own, such as a local cluster's hub:
 *
 *   ip netns exec NS node dist/src/network/dns/testing/fake-upstream-main.js ADDR:PORT NAME=IPV4 ...
 *
 * It prints `listening ADDR:PORT` once it answers, then `asked NAME` for every query, and stops on
 * SIGTERM or SIGINT.
 */
import { FakeUpstream } from './fake-upstream.js';

async function main(argv: string[]): Promise<void> {
  const [listen, ...pairs] = argv;
  const match = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(listen ?? '');
  if (!match || pairs.some((p) => !p.includes('='))) {
    process.stderr.write('usage: fake-upstream-main.js ADDR:PORT NAME=IPV4 ...\n');
    process.exit(2);
  }
  const records = Object.fromEntries(pairs.map((p) => p.split('=') as [string, string]));
  const upstream = await FakeUpstream.start(records, {}, { address: match[1], port: Number(match[2]) });
  upstream.onQuery = (name) => process.stdout.write(`asked ${name}\n`);
  process.stdout.write(`listening ${upstream.address}:${upstream.port}\n`);
  const stop = (): void => void upstream.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main(process.argv.slice(2));
