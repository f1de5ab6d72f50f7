import { describe, expect, it } from 'vitest';
import { PortProtocol, PublishMode, type PortConfig } from '../../proto/gen/objects.js';
import { formatPorts, parsePortPatterns } from './ports.js';

const port = (publishedPort: number, targetPort: number, protocol = PortProtocol.PORT_PROTOCOL_TCP): PortConfig => ({
  publishedPort,
  targetPort,
  protocol,
  publishMode: PublishMode.PUBLISH_MODE_INGRESS,
});

describe('formatPorts', () => {
  it('sorts by protocol and published port and joins runs that count up on both sides, as docker does', () => {
    const udp = PortProtocol.PORT_PROTOCOL_UDP;
    const ports = [port(53, 53, udp), port(8081, 81), port(30000, 80), port(8080, 80), port(54, 54, udp), port(8082, 82), port(8083, 90)];
    expect(formatPorts(ports)).toBe('*:8080-8082->80-82/tcp, *:8083->90/tcp, *:30000->80/tcp, *:53-54->53-54/udp');
  });

  it('leaves out ports the manager has not given a published port yet', () => {
    expect(formatPorts([port(0, 80)])).toBe('');
  });
});

describe('parsePortPatterns', () => {
  it('reads a published range onto one target as one port each', () => {
    expect(parsePortPatterns('8080-8081:80')).toEqual([
      { target: 80, published: 8080, protocol: PortProtocol.PORT_PROTOCOL_TCP },
      { target: 80, published: 8081, protocol: PortProtocol.PORT_PROTOCOL_TCP },
    ]);
  });

  it('lets a removal name only the published port', () => {
    expect(parsePortPatterns('published=8080', true)).toEqual([{ published: 8080 }]);
    expect(() => parsePortPatterns('published=8080')).toThrow('target is required');
    expect(() => parsePortPatterns('90-80')).toThrow('invalid target range 90-80: the end is below the start');
  });
});
