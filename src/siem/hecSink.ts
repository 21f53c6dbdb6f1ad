import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { ConnectionOptions } from 'node:tls';
import { ServiceError } from '../errors.js';
import { sleep } from '../pipeline/signal.js';
import type { SinkBatch, SinkHealth } from '../sinks/sink.js';
import type { SiemSink } from './sinks.js';
import { VERSION } from '../version.js';
import { detectionsOf, toHec } from './formats.js';
import { post, retriableStatus, retryAfterMs, type HttpReply } from './http.js';
import { DeliveryProgress } from './progress.js';

const gzip = promisify(gzipCallback);

export interface HecSinkOptions {
  /** The collector: its origin, or the full URL of the event endpoint. */
  url: string;
  token: string;
  index?: string;
  source: string;
  sourcetype: string;
  host: string;
  batchMaxEvents: number;
  batchMaxBytes: number;
  gzip: boolean;
  /** Wait for indexer acknowledgement of every request. */
  ack: boolean;
  ackTimeoutMs: number;
  /** How often to ask whether a request is indexed. Default 1 s. */
  ackPollMs?: number;
  timeoutMs: number;
  tls?: ConnectionOptions;
  now?: () => number;
}

/** The event endpoint of a collector URL: `/services/collector/event` unless the URL names a path. */
export function hecEndpoint(url: string): URL {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/services/collector/event';
  return u;
}

/**
 * Sends every alert to a Splunk HTTP Event Collector: events (`toHec`) back to back in requests
 * of at most `batchMaxEvents` and `batchMaxBytes`, gzip-compressed, with the token in the
 * Authorization header (and never in a log line or error).
 *
 * A write resolves once Splunk accepted every request (200), and with `ack`, once it says each
 * is indexed. Busy or down (429, 503, any 5xx, a timeout, no connection) rejects the write as
 * retriable, and the pipeline holds its input and tries again with backoff, no sooner than a
 * Retry-After asks; the batch goes on from the first request not accepted. A refusal no retry
 * can change (a bad token, an unknown index, 400) rejects it as not retriable: the pipeline
 * stops rather than drop alerts.
 */
export class HecSink implements SiemSink {
  readonly name = 'hec';
  readonly counters = { events: 0, requests: 0, bytes: 0 };
  /** Alerts delivered, for authwatch_siem_alerts_total. */
  delivered = 0;
  private readonly endpoint: URL;
  private readonly ackEndpoint: URL;
  /** Indexer acknowledgement is per channel: one per sink. */
  private readonly channel = randomUUID();
  private readonly progress = new DeliveryProgress();
  private notBefore = 0;
  private lastError: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: HecSinkOptions) {
    this.endpoint = hecEndpoint(options.url);
    this.ackEndpoint = new URL('/services/collector/ack', this.endpoint);
    this.now = options.now ?? Date.now;
  }

  async write(batch: SinkBatch): Promise<void> {
    if (batch.alerts.length === 0) return;
    const o = this.options;
    const lines = detectionsOf(batch.alerts, batch.actions).map((d) =>
      JSON.stringify(
        toHec(d, {
          host: o.host,
          hec: { source: o.source, sourcetype: o.sourcetype, ...(o.index ? { index: o.index } : {}) },
        }),
      ),
    );
    const requests = chunk(lines, o.batchMaxEvents, o.batchMaxBytes);
    for (let i = this.progress.of(batch); i < requests.length; i++) {
      const wait = this.notBefore - this.now();
      if (wait > 0) await sleep(wait);
      const events = requests[i]!;
      const text = Buffer.from(events.join('\n'), 'utf8');
      const body = o.gzip ? await gzip(text) : text;
      const reply = await this.send(this.endpoint, body, o.gzip);
      if (reply.status !== 200) throw this.refused(reply, `${events.length} event(s)`);
      if (o.ack) await this.acknowledged(reply);
      this.counters.requests++;
      this.counters.events += events.length;
      this.delivered += events.length;
      this.counters.bytes += body.length;
      this.progress.set(batch, i + 1);
    }
    this.lastError = undefined;
  }

  private async send(url: URL, body: Buffer, gzipped: boolean): Promise<HttpReply> {
    const headers: Record<string, string> = {
      authorization: `Splunk ${this.options.token}`,
      'content-type': 'application/json',
      'user-agent': `authwatch/${VERSION}`,
      ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
      ...(this.options.ack ? { 'x-splunk-request-channel': this.channel } : {}),
    };
    try {
      return await post(url, body, headers, { timeoutMs: this.options.timeoutMs, tls: this.options.tls });
    } catch (err) {
      this.lastError = (err as Error).message;
      throw new ServiceError('hec', `Splunk HEC at ${url.origin} did not answer: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
      });
    }
  }

  /** The error for a reply other than 200: retriable when the collector is busy or down. */
  private refused(reply: HttpReply, what: string): ServiceError {
    const retriable = retriableStatus(reply.status);
    const after = retryAfterMs(reply.headers['retry-after'], this.now());
    if (retriable && after !== undefined) this.notBefore = this.now() + after;
    const said = reply.body.trim().slice(0, 300);
    this.lastError = `HTTP ${reply.status}${said ? `: ${said}` : ''}`;
    return new ServiceError(
      'hec',
      `Splunk HEC at ${this.endpoint.origin} ${retriable ? 'is busy or down' : 'refused'} ${what} (${this.lastError})${retriable ? '' : '; no retry can change that: check the token, the index and the URL'}.`,
      { retriable },
    );
  }

  /** Waits until Splunk says the request in `reply` is indexed. */
  private async acknowledged(reply: HttpReply): Promise<void> {
    let ackId: number | undefined;
    try {
      ackId = (JSON.parse(reply.body) as { ackId?: number }).ackId;
    } catch {
      // handled below
    }
    if (typeof ackId !== 'number') {
      this.lastError = 'no ackId in the reply';
      throw new ServiceError(
        'hec',
        `Splunk HEC at ${this.endpoint.origin} answered without an ackId: indexer acknowledgement is off for this token. Turn it on in Splunk, or sinks.hec.ack off.`,
        { retriable: false },
      );
    }
    const deadline = this.now() + this.options.ackTimeoutMs;
    const body = Buffer.from(JSON.stringify({ acks: [ackId] }));
    for (;;) {
      const answer = await this.send(this.ackEndpoint, body, false);
      if (answer.status !== 200) throw this.refused(answer, `the acknowledgement of request ${ackId}`);
      const acks = (JSON.parse(answer.body) as { acks?: Record<string, boolean> }).acks ?? {};
      if (acks[String(ackId)] === true) return;
      if (this.now() >= deadline) {
        this.lastError = `request ${ackId} not acknowledged`;
        throw new ServiceError(
          'hec',
          `Splunk HEC at ${this.endpoint.origin} did not acknowledge request ${ackId} within ${this.options.ackTimeoutMs} ms; its events are sent again.`,
          { retriable: true },
        );
      }
      await sleep(this.options.ackPollMs ?? 1000);
    }
  }

  healthcheck(): Promise<SinkHealth> {
    return Promise.resolve(this.lastError === undefined ? { ok: true } : { ok: false, detail: this.lastError });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Lines in runs of at most `maxCount` and `maxBytes` (a longer line goes alone). */
function chunk(lines: string[], maxCount: number, maxBytes: number): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line) + 1;
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
