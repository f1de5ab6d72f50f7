/**
 * A unary-only gRPC server on node:http2. raft-kv answers its clients through this rather than
 * grpc-js's Server: per call, grpc-js's interceptor and metadata machinery cost the leader more CPU
 * than Raft itself (see bench/raft-kv/README.md), and a unary call needs none of it. Clients are
 * unaffected: etcdctl (grpc-go) and grpc-js speak to it as to any gRPC server.
 */
import { status } from '@grpc/grpc-js';
import { createServer, constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { GRPC_CONTENT_TYPE, GrpcStatusError, MAX_MESSAGE_BYTES, encodeGrpcMessage, frameMessage, unframeMessage } from './frame.js';

/** Answers one request message with one response message, or throws a GrpcStatusError. */
export type UnaryHandler = (request: Buffer, headers: IncomingHttpHeaders) => Promise<Uint8Array>;

export class UnaryGrpcServer {
  private readonly http2: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();

  /** `routes` maps full method paths ("/etcdserverpb.KV/Put") to their handlers. */
  constructor(
    private readonly routes: ReadonlyMap<string, UnaryHandler>,
    private readonly toStatus: (err: unknown) => GrpcStatusError,
  ) {
    this.http2 = createServer();
    this.http2.on('session', (session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    this.http2.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.http2.once('error', reject);
      this.http2.listen(port, host, () => {
        this.http2.off('error', reject);
        resolve();
      });
    });
  }

  /** The port it listens on (the one the system chose when listen was given 0). */
  get port(): number {
    return (this.http2.address() as AddressInfo).port;
  }

  /** Stops accepting and drops every connection, like grpc-js's forceShutdown. */
  close(): Promise<void> {
    for (const session of this.sessions) session.destroy();
    return new Promise((resolve) => this.http2.close(() => resolve()));
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {
      // A reset by the client; there is no one left to answer.
    });
    const handler = this.routes.get(String(headers[constants.HTTP2_HEADER_PATH]));
    if (headers[constants.HTTP2_HEADER_METHOD] !== 'POST' || !String(headers['content-type'] ?? '').startsWith(GRPC_CONTENT_TYPE)) {
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    if (!handler) {
      this.fail(stream, new GrpcStatusError(status.UNIMPLEMENTED, `unknown method ${String(headers[':path'])}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_MESSAGE_BYTES + 5) {
        this.fail(stream, new GrpcStatusError(status.RESOURCE_EXHAUSTED, 'request too large'));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => {
      if (stream.headersSent) return;
      let request: Buffer;
      try {
        request = unframeMessage(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      } catch (err) {
        this.fail(stream, this.toStatus(err));
        return;
      }
      handler(request, headers).then(
        (response) => this.succeed(stream, response),
        (err: unknown) => this.fail(stream, this.toStatus(err)),
      );
    });
  }

  private succeed(stream: ServerHttp2Stream, response: Uint8Array): void {
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frameMessage(response));
  }

  /** A trailers-only response: the status rides in the one HEADERS frame. */
  private fail(stream: ServerHttp2Stream, err: GrpcStatusError): void {
    if (stream.destroyed || stream.headersSent) return;
    stream.respond(
      {
        ':status': 200,
        'content-type': GRPC_CONTENT_TYPE,
        'grpc-status': String(err.code),
        'grpc-message': encodeGrpcMessage(err.details),
      },
      { endStream: true },
    );
  }
}
