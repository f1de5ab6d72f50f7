import { describe, expect, it } from 'vitest';
import { renderNodeTable, renderSandboxTable, type IngressPort } from './ingress-rules.js';
import { dnatTargets, replaceTableScript, tableDigest } from './nft.js';
import { renderVipTable } from './vip.js';

describe('renderVipTable', () => {
  it('dispatches each VIP with backends to a round robin over them, and rejects whatever still goes to a VIP', () => {
    const table = renderVipTable([
      { vip: '10.0.1.20', backends: ['10.0.1.7', '10.0.1.5', '10.0.1.7'] },
      { vip: '10.0.1.3', backends: [] },
    ]);
    expect(table.name).toBe('shoal_lb');
    expect(table.body.split('\n').map((l) => l.trim())).toEqual([
      'set vips { type ipv4_addr; elements = { 10.0.1.3, 10.0.1.20 }; }',
      'chain svc_1 { dnat to numgen inc mod 2 map { 0 : 10.0.1.5, 1 : 10.0.1.7 }; }',
      'chain output_nat {',
      'type nat hook output priority -100; policy accept;',
      'ip daddr vmap { 10.0.1.20 : goto svc_1 }',
      '}',
      'chain output_filter {',
      'type filter hook output priority 0; policy accept;',
      'ip daddr @vips meta l4proto tcp reject with tcp reset',
      'ip daddr @vips reject',
      '}',
      '',
    ]);
  });

  it('renders the same text whatever the order of services and backends', () => {
    const a = renderVipTable([{ vip: '10.0.1.2', backends: ['10.0.1.9', '10.0.1.10'] }, { vip: '10.0.2.2', backends: ['10.0.2.5'] }]);
    const b = renderVipTable([{ vip: '10.0.2.2', backends: ['10.0.2.5'] }, { vip: '10.0.1.2', backends: ['10.0.1.10', '10.0.1.9'] }]);
    expect(b).toEqual(a);
    expect(renderVipTable([]).body).not.toContain('vmap');
  });

  it('refuses a VIP given twice, a VIP as a backend and anything that is not an address', () => {
    expect(() => renderVipTable([{ vip: '10.0.1.2', backends: [] }, { vip: '10.0.1.2', backends: [] }])).toThrow(/given twice/);
    expect(() => renderVipTable([{ vip: '10.0.1.2', backends: ['10.0.1.3'] }, { vip: '10.0.1.3', backends: [] }])).toThrow(/as a backend/);
    expect(() => renderVipTable([{ vip: '10.0.1.2; flush ruleset', backends: [] }])).toThrow(/invalid IPv4 address/);
    expect(() => renderVipTable([{ vip: '10.0.1.2', backends: ['10.0.1.0/24'] }])).toThrow(/invalid IPv4 address/);
  });
});

describe('routing mesh tables', () => {
  const ports: IngressPort[] = [
    { protocol: 'udp', published: 30053, target: 53, backends: [] },
    { protocol: 'tcp', published: 30080, target: 80, backends: ['10.255.0.9', '10.255.0.7'] },
  ];

  it('on the node: sends ingress ports to the sandbox and host ports to the local task, for the node own addresses only', () => {
    const body = renderNodeTable(ports, [{ protocol: 'tcp', published: 8080, target: 80, address: '172.18.0.5' }], '169.254.213.2').body;
    expect(body).toContain('\t\tfib daddr type local tcp dport 30080 dnat to 169.254.213.2\n');
    expect(body).toContain('\t\tfib daddr type local udp dport 30053 dnat to 169.254.213.2\n');
    expect(body).toContain('\t\tfib daddr type local tcp dport 8080 dnat to 172.18.0.5:80\n');
    expect(body).toContain('\t\tip daddr != 127.0.0.0/8 fib daddr type local tcp dport 8080 dnat to 172.18.0.5:80\n');
  });

  it('in the sandbox: balances ports with tasks to their target port, masquerades, forwards nothing else', () => {
    const body = renderSandboxTable(ports).body;
    expect(body).toContain('iifname "gw0" tcp dport 30080 dnat to numgen inc mod 2 map { 0 : 10.255.0.7, 1 : 10.255.0.9 } : 80\n');
    expect(body).not.toContain('30053');
    expect(body).toContain('policy drop;');
    expect(body).toContain('iifname "gw0" oifname "eth0" ct status dnat accept\n');
    expect(body).toContain('oifname "eth0" masquerade\n');
  });

  it('refuses a published port given twice across modes, and ports or protocols out of range', () => {
    const host = { protocol: 'tcp' as const, published: 30080, target: 80, address: '172.18.0.5' };
    expect(() => renderNodeTable(ports, [host], '169.254.213.2')).toThrow(/tcp\/30080 is given twice/);
    expect(() => renderNodeTable([], [{ ...host, published: 0 }], '169.254.213.2')).toThrow(/invalid published port 0/);
    expect(() => renderSandboxTable([{ ...ports[1]!, target: 70000 }])).toThrow(/invalid target port 70000/);
    expect(() => renderSandboxTable([{ ...ports[1]!, protocol: 'sctp' as 'tcp' }])).toThrow(/invalid protocol "sctp"/);
  });
});

describe('replaceTableScript', () => {
  it('creates, deletes and redefines the table in one script, stamped with the digest of its contents', () => {
    const table = { name: 'shoal_lb', body: '\tchain c { }\n' };
    expect(replaceTableScript(table)).toBe(
      `table ip shoal_lb\ndelete table ip shoal_lb\ntable ip shoal_lb {\n\tcomment "shoal:${tableDigest(table)}";\n\tchain c { }\n}\n`,
    );
    expect(tableDigest({ ...table, body: '\tchain d { }\n' })).not.toBe(tableDigest(table));
    expect(() => replaceTableScript({ name: 'filter', body: '' })).toThrow(/invalid table name/);
  });
});

describe('dnatTargets', () => {
  it('reads nft\'s own listing: round-robin maps and single DNATs, with or without a port, once each in numeric order', () => {
    // `nft list table` (nftables 1.0.6) of tables like the routing mesh's and a VIP table.
    const listing = [
      'table ip shoal_ingress {',
      '\tcomment "shoal:0123abcd"',
      '\tchain prerouting {',
      '\t\ttype nat hook prerouting priority dstnat; policy accept;',
      '\t\tiifname "gw0" udp dport 30080 dnat to numgen inc mod 2 map { 0 : 10.255.0.9, 1 : 10.255.0.10 }:80',
      '\t\tfib daddr type local tcp dport 8081 dnat to 169.254.213.2',
      '\t\tfib daddr type local udp dport 8082 dnat to 172.30.0.5:80',
      '\t\tip daddr vmap { 10.0.1.20 : goto svc_0 }',
      '\t}',
      '\tchain svc_0 {',
      '\t\tdnat to numgen inc mod 1 map { 0 : 10.255.0.9 }',
      '\t}',
      '}',
    ].join('\n');
    expect(dnatTargets(listing)).toEqual(['10.255.0.9', '10.255.0.10', '169.254.213.2', '172.30.0.5']);
    expect(dnatTargets('')).toEqual([]);
  });

  it('reads the tables shoal renders alike, and not the VIPs they match', () => {
    const vip = renderVipTable([{ vip: '10.0.1.20', backends: ['10.0.1.7', '10.0.1.5'] }, { vip: '10.0.1.3', backends: [] }]);
    expect(dnatTargets(vip.body)).toEqual(['10.0.1.5', '10.0.1.7']);
    const node = renderNodeTable([{ protocol: 'tcp', published: 8080, target: 80 }], [{ protocol: 'udp', published: 53, target: 5353, address: '172.30.0.2' }], '169.254.213.2');
    expect(dnatTargets(node.body)).toEqual(['169.254.213.2', '172.30.0.2']);
  });
});
