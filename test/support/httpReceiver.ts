import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One request as a loopback receiver saw it: the body decompressed when it came gzipped. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as sent (compressed, if it was). */
  raw: Buffer;
  body: string;
  at: number;
}

/**
 * A loopback HTTP server that records every request and answers with what `reply` says (200
 * and `{"text":"Success","code":0}` by default), standing in for a Splunk HEC or a webhook
 * receiver in tests.
 */
export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  reply: (req: ReceivedRequest, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
  };

  private constructor(private readonly server: Server) {}

  static async start(): Promise<HttpReceiver> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body =
          req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
        const got: ReceivedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          body,
          at: Date.now(),
        };
        receiver.requests.push(got);
        receiver.reply(got, res);
      });
    });
    const receiver = new HttpReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
