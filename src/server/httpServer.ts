import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Metrics } from './metrics.js';

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
  logger.info({ host: options.host, port }, 'Serving /healthz, /readyz and /metrics.');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
