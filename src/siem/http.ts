import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP(S) POST, with a deadline for the whole exchange; the reply's body is read (up to
 * 64 KiB, which is all a collector's answer needs). Rejects on a network error or the deadline.
 */
export function post(
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  options: { timeoutMs: number; tls?: ConnectionOptions },
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length) },
        ...(url.protocol === 'https:' ? options.tls : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 65_536) chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Whether a status is worth trying again: the receiver is busy or down, not refusing the request. */
export function retriableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** A Retry-After header's wait in ms (seconds or an HTTP date), at most `capMs`. */
export function retryAfterMs(value: string | string[] | undefined, now: number, capMs = 60_000): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  const seconds = Number(v);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(capMs, Math.max(0, ms)) : undefined;
}
