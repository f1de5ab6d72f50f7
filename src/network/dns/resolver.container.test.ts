/**
 * The resolver with a real container (needs root): a busybox container whose supervisor runs the
 * DNS relay (org.shoal.dns.relay) aimed at a DnsResolver in this process, and busybox's nslookup
 * inside it asking 127.0.0.11. Nothing is asked of any other nameserver.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestRuntime } from '../../runtime/shim/testing/test-runtime.js';
import { ServiceDiscovery, type DiscoveryView } from './discovery.js';
import { DnsResolver } from './resolver.js';

let t: TestRuntime;
let discovery: ServiceDiscovery;
let resolver: DnsResolver;

function view(containerId: string): DiscoveryView {
  return {
    networks: new Map([
      [
        'net-a',
        [
          {
            name: 'web',
            mode: 'vip',
            vip: '10.0.1.2/24',
            tasks: [
              { name: 'web.1.t1', address: '10.0.1.5/24' },
              { name: 'web.2.t2', address: '10.0.1.6/24' },
            ],
          },
        ],
      ],
      ['net-b', [{ name: 'secret', mode: 'vip', vip: '10.0.2.2/24', tasks: [] }]],
    ]),
    containers: new Map([[containerId, ['net-a']]]),
  };
}

beforeAll(async () => {
  t = await TestRuntime.create();
  discovery = new ServiceDiscovery();
  resolver = await DnsResolver.listen({ path: join(t.work, 'dns.sock'), discovery });
});

afterEach(() => t?.deleteAll());

afterAll(async () => {
  await resolver?.close();
  await t?.dispose();
});

describe('DnsResolver with a real container', () => {
  it('answers nslookup in the container from the view: VIP, tasks.NAME, NXDOMAIN off its networks, REFUSED for other names', async () => {
    const c = t.runDetached(t.makeBundle({ annotations: { 'org.shoal.dns.relay': resolver.path } }));
    discovery.update(view(c.id));

    const web = await t.exec(c.id, 'nslookup', 'web', '127.0.0.11');
    expect(web.stdout).toMatch(/Name:\s+web\s+Address:\s+10\.0\.1\.2\b/);

    const tasks = await t.exec(c.id, 'nslookup', 'tasks.web', '127.0.0.11');
    expect(tasks.stdout).toMatch(/Address:\s+10\.0\.1\.5\b/);
    expect(tasks.stdout).toMatch(/Address:\s+10\.0\.1\.6\b/);

    const secret = await t.exec(c.id, 'nslookup', 'secret', '127.0.0.11');
    expect(secret.stdout + secret.stderr).toContain('NXDOMAIN');

    const outside = await t.exec(c.id, 'nslookup', 'example.com', '127.0.0.11');
    expect(outside.stdout + outside.stderr).toContain('REFUSED');
  });
});
