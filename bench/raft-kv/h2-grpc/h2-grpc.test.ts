/**
 * The unary gRPC server and client over node:http2, against each other on loopback: messages both
 * ways, statuses with their messages, the limits and the deadline. Interoperability with grpc-go is
 * covered by raft-kv.test.ts, where etcdctl talks to the server.
 */
import { status } from '@grpc/grpc-js';
import { connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnaryGrpcClient } from './client.js';
import { GrpcStatusError, decodeGrpcMessage, encodeGrpcMessage, frameMessage, parseGrpcTimeout, unframeMessage } from './frame.js';
import { UnaryGrpcServer, type UnaryHandler } from './server.js';

let server: UnaryGrpcServer;
let endpoint: string;
const clients: UnaryGrpcClient[] = [];

const routes = new Map<string, UnaryHandler>([
  ['/test.Echo/Reverse', async (body) => Buffer.from(body).reverse()],
  ['/test.Echo/Header', async (_body, headers) => Buffer.from(String(headers['x-probe'] ?? ''))],
  ['/test.Echo/Fail', async () => Promise.reject(new GrpcStatusError(status.UNAVAILABLE, 'etcdserver: no leader — 100%'))],
  ['/test.Echo/Crash', async () => Promise.reject(new Error('boom'))],
  ['/test.Echo/Never', () => new Promise<Uint8Array>(() => undefined)],
]);

beforeAll(async () => {
  server = new UnaryGrpcServer(routes, (err) =>
    err instanceof GrpcStatusError ? err : new GrpcStatusError(status.INTERNAL, err instanceof Error ? err.message : String(err)),
  );
  await server.listen('127.0.0.1', 0);
  endpoint = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server.close();
});

function client(): UnaryGrpcClient {
  const c = new UnaryGrpcClient(endpoint);
  clients.push(c);
  return c;
}

async function failure(promise: Promise<unknown>): Promise<GrpcStatusError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GrpcStatusError);
  return err as GrpcStatusError;
}

describe('gRPC framing', () => {
  it('frames one message and reads it back, refusing compressed or mis-sized bodies', () => {
    const framed = frameMessage(Buffer.from('hello'));
    expect([...framed.subarray(0, 5)]).toEqual([0, 0, 0, 0, 5]);
    expect(unframeMessage(framed).toString()).toBe('hello');
    const compressed = Buffer.from(framed);
    compressed[0] = 1;
    expect(() => unframeMessage(compressed)).toThrow(/compressed/);
    expect(() => unframeMessage(framed.subarray(0, 7))).toThrow(/exactly one message/);
  });

  it('percent-encodes grpc-message outside printable ASCII and decodes it back', () => {
    const text = 'no leader — 100%';
    expect(encodeGrpcMessage(text)).toBe('no leader %E2%80%94 100%25');
    expect(decodeGrpcMessage(encodeGrpcMessage(text))).toBe(text);
  });

  it('reads grpc-timeout in every unit and ignores malformed ones', () => {
    expect(parseGrpcTimeout('10S')).toBe(10_000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('2M')).toBe(120_000);
    expect(parseGrpcTimeout('10x')).toBeUndefined();
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
  });
});

describe('UnaryGrpcServer and UnaryGrpcClient', () => {
  it('answers calls, many at once on one connection', async () => {
    const c = client();
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => c.call('/test.Echo/Reverse', Buffer.from(`abc${i}`), 5000)));
    expect(answers.map((a) => a.toString())).toEqual(Array.from({ length: 50 }, (_, i) => [...`abc${i}`].reverse().join('')));
  });

  it('passes request headers to the handler', async () => {
    expect((await client().call('/test.Echo/Header', Buffer.alloc(0), 5000, { 'x-probe': 'yes' })).toString()).toBe('yes');
  });

  it('returns the handler status and message, and INTERNAL for an unexpected error', async () => {
    const failed = await failure(client().call('/test.Echo/Fail', Buffer.alloc(0), 5000));
    expect(failed.code).toBe(status.UNAVAILABLE);
    expect(failed.details).toBe('etcdserver: no leader — 100%');
    const crashed = await failure(client().call('/test.Echo/Crash', Buffer.alloc(0), 5000));
    expect([crashed.code, crashed.details]).toEqual([status.INTERNAL, 'boom']);
  });

  it('answers an unknown method with UNIMPLEMENTED', async () => {
    expect((await failure(client().call('/test.Echo/Nope', Buffer.alloc(0), 5000))).code).toBe(status.UNIMPLEMENTED);
  });

  it('gives up at the deadline with DEADLINE_EXCEEDED and keeps the connection usable', async () => {
    const c = client();
    expect((await failure(c.call('/test.Echo/Never', Buffer.alloc(0), 100))).code).toBe(status.DEADLINE_EXCEEDED);
    expect((await c.call('/test.Echo/Reverse', Buffer.from('ok'), 5000)).toString()).toBe('ko');
  });

  it('refuses a request that is not gRPC', async () => {
    const session = connect(`http://${endpoint}`);
    try {
      const code = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':method': 'GET', ':path': '/test.Echo/Reverse' });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.end();
      });
      expect(code).toBe(415);
    } finally {
      session.close();
    }
  });

  it('reports UNAVAILABLE when nothing listens', async () => {
    const dead = new UnaryGrpcClient('127.0.0.1:1');
    clients.push(dead);
    expect((await failure(dead.call('/test.Echo/Reverse', Buffer.alloc(0), 5000))).code).toBe(status.UNAVAILABLE);
  });
});
