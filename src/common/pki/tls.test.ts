/**
 * The certificates shoal builds work in a real mutual-TLS gRPC handshake: both sides trust only
 * the root, the server demands a client certificate, and a certificate from another CA is refused.
 */
import { Client, credentials, Server, ServerCredentials, status, type ServerUnaryCall, type sendUnaryData, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCa, testLeaf, type TestCa, type TestLeaf } from './testing/fixtures.js';

const SERVER_NAME = 'node.test';
const identity = (b: Buffer) => b;
const ECHO = {
  echo: {
    path: '/shoal.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

let ca: TestCa;
let server: Server;
let port: number;
/** Calls that reached the handler: a refused handshake must leave it unchanged. */
let served = 0;

beforeAll(async () => {
  ca = testCa('shoal-root-ca');
  const serverLeaf = testLeaf(ca, { subject: { commonName: 'manager-1', organizationalUnit: 'manager' }, dnsNames: [SERVER_NAME], ipAddresses: ['127.0.0.1'] });
  server = new Server();
  server.addService(ECHO, {
    // Answers with the CN the TLS layer verified, so the test sees who the server thinks called.
    echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      served++;
      const peer = call.getAuthContext().sslPeerCertificate;
      callback(null, Buffer.from(`${call.request.toString()} from ${peer?.subject.CN ?? 'nobody'}`));
    },
  });
  const creds = ServerCredentials.createSsl(
    Buffer.from(ca.certificate.pem),
    [{ private_key: Buffer.from(serverLeaf.keyPem), cert_chain: Buffer.from(serverLeaf.certificate.pem) }],
    true,
  );
  port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

function call(root: TestCa, leaf: TestLeaf | undefined): Promise<string> {
  const channelCreds = leaf
    ? credentials.createSsl(Buffer.from(root.certificate.pem), Buffer.from(leaf.keyPem), Buffer.from(leaf.certificate.pem))
    : credentials.createSsl(Buffer.from(root.certificate.pem));
  const client = new Client(`127.0.0.1:${port}`, channelCreds, { 'grpc.ssl_target_name_override': SERVER_NAME });
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(ECHO.echo.path, identity, identity, Buffer.from('hello'), { deadline: Date.now() + 10_000 }, (err: ServiceError | null, value?: Buffer) => {
      client.close();
      if (err) reject(err);
      else resolve(value!.toString());
    });
  });
}

describe('mutual TLS with shoal-built certificates', () => {
  it('lets a client with a certificate from the same root call, and shows the server who it is', async () => {
    const clientLeaf = testLeaf(ca, { subject: { commonName: 'worker-9', organizationalUnit: 'worker' } });
    expect(await call(ca, clientLeaf)).toBe('hello from worker-9');
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const other = testCa('shoal-root-ca');
    const before = served;
    await expect(call(ca, testLeaf(other))).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(served).toBe(before);
  });

  it('refuses a client without a certificate', async () => {
    const before = served;
    await expect(call(ca, undefined)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(served).toBe(before);
  });

  it('lets the client refuse a server its root did not sign', async () => {
    const other = testCa('shoal-root-ca');
    const before = served;
    await expect(call(other, testLeaf(other))).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(served).toBe(before);
  });
});
