import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Metrics } from './metrics.js';
import { refuseUnlessReadOnly } from './readOnlySql.js';

/** What /readyz reports: ready, and each check by name. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean | number | string>;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  /** False once the process cannot do its job any more (the pipeline stopped on an error). */
  live: () => boolean;
  readiness: () => Readiness;
  logger: Logger;
  /**
   * Read-only SQL on the store the process holds, as ClickHouse's HTTP interface answers it
   * (`/?query=…` or the query as the POST body, `default_format`), to loopback clients only.
   */
  sql?: (query: string, format: string) => Promise<string>;
}

export interface RunningServer {
  /** The port it listens on (the one picked when 0 was asked). */
  port: number;
  close(): Promise<void>;
}

/**
 * The operations endpoints: `/healthz` (the process is alive and working), `/readyz` (Kafka
 * reachable, partitions assigned, state restored, sinks writing) and `/metrics` (Prometheus
 * text format).
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningServer> {
  const { metrics, logger } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (options.sql && (path === '/' || path === '/ping')) {
      serveSql(req, res, options.sql, logger);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    };
    switch (path) {
      case '/healthz': {
        const live = options.live();
        json(live ? 200 : 503, { status: live ? 'ok' : 'failed' });
        return;
      }
      case '/readyz': {
        const r = options.readiness();
        json(r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks });
        return;
      }
      case '/metrics':
        metrics.text().then(
          (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
          (err: unknown) => {
            logger.error({ err }, 'Collecting the metrics failed.');
            res.writeHead(500).end();
          },
        );
        return;
      default:
        json(404, { error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics'] });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info(
    { host: options.host, port },
    options.sql
      ? 'Serving /healthz, /readyz, /metrics, and read-only SQL on the store at / (ClickHouse HTTP interface, loopback clients only).'
      : 'Serving /healthz, /readyz and /metrics.',
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The most bytes of a query taken in a POST body. */
const MAX_QUERY_BYTES = 1024 * 1024;

/** Whether a peer address is this machine's own (127.0.0.0/8, ::1, or either mapped). */
export function loopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return (isIP(v4) === 4 && v4.startsWith('127.')) || address === '::1';
}

/**
 * The ClickHouse HTTP interface, read-only: `GET /?query=…`, `POST /` with the query in the
 * body (after `query`, if both), `default_format` (TabSeparated otherwise), `/ping`. Errors
 * come back as ClickHouse sends them: a status and the message as text.
 */
function serveSql(
  req: IncomingMessage,
  res: ServerResponse,
  run: (query: string, format: string) => Promise<string>,
  logger: Logger,
): void {
  const text = (status: number, body: string) =>
    res.writeHead(status, { 'content-type': 'text/plain; charset=UTF-8' }).end(body);
  if (!loopback(req.socket.remoteAddress)) {
    text(403, 'Code: 516. DB::Exception: SQL is answered to loopback clients only.\n');
    return;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/ping') {
    text(200, 'Ok.\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'POST') {
    res.writeHead(405, { allow: 'GET, POST' }).end();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_QUERY_BYTES) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_QUERY_BYTES) {
      text(413, 'Code: 62. DB::Exception: The query is longer than 1 MiB.\n');
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const query = [url.searchParams.get('query') ?? '', body].filter((s) => s.length > 0).join(' ');
    const refused = refuseUnlessReadOnly(query);
    if (refused) {
      text(403, `Code: 164. DB::Exception: ${refused} (READONLY)\n`);
      return;
    }
    run(query, url.searchParams.get('default_format') ?? 'TabSeparated').then(
      (result) => text(200, result),
      (err: unknown) => {
        const message = (err as Error).message.replace(/^Embedded ClickHouse: could not run a query: /, '');
        logger.debug({ err }, 'A read-only query failed.');
        text(/\bCode: (62|47|60|46|43)\b/.test(message) ? 400 : 500, `${message}\n`);
      },
    );
  });
}
