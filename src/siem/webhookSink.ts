import type { ConnectionOptions } from 'node:tls';
import { ServiceError } from '../errors.js';
import { KEY_ID_HEADER, sign, SIGNATURE_HEADER } from '../sinks/signature.js';
import type { SinkBatch, SinkHealth } from '../sinks/sink.js';
import type { SiemSink } from './sinks.js';
import { VERSION } from '../version.js';
import { detectionsOf, toEcs, toJson, toOcsf, type Detection } from './formats.js';
import { post, retriableStatus, retryAfterMs } from './http.js';
import { DeliveryProgress } from './progress.js';
import { sleep } from '../pipeline/signal.js';

export interface WebhookSinkOptions {
  url: string;
  /** The shared HMAC key. */
  secret: string;
  keyId?: string;
  format: 'json' | 'ocsf' | 'ecs';
  timeoutMs: number;
  tls?: ConnectionOptions;
  now?: () => number;
}

const BODY: Record<WebhookSinkOptions['format'], (d: Detection) => Record<string, unknown>> = {
  json: toJson,
  ocsf: toOcsf,
  ecs: toEcs,
};

/**
 * POSTs every alert to a URL, one request each, signed as the alert and action topics are:
 * `authwatch-signature: t=<epoch ms>,v1=<hex HMAC-SHA256 of the time, a dot and the body>`.
 * The receiver recomputes it over the body it got (`verify` in src/sinks/signature.ts), refuses
 * a mismatch, and refuses a time too far from its clock, so a captured request sent again later
 * is refused. `idempotency-key` carries the alert id, for receivers that de-duplicate.
 *
 * A 2xx answer delivers the alert. 408, 425, 429 and 5xx, a timeout or no connection reject the
 * write as retriable (the pipeline holds its input and tries again, no sooner than a Retry-After
 * asks, going on from the first alert not delivered, signed anew); any other answer as not
 * retriable, which stops the pipeline rather than drop the alert.
 */
export class WebhookSink implements SiemSink {
  readonly name = 'webhook';
  readonly counters = { requests: 0, bytes: 0 };
  /** Alerts delivered, for authwatch_siem_alerts_total. */
  delivered = 0;
  private readonly url: URL;
  private readonly progress = new DeliveryProgress();
  private notBefore = 0;
  private lastError: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: WebhookSinkOptions) {
    this.url = new URL(options.url);
    this.now = options.now ?? Date.now;
  }

  async write(batch: SinkBatch): Promise<void> {
    if (batch.alerts.length === 0) return;
    const detections = detectionsOf(batch.alerts, batch.actions);
    const format = BODY[this.options.format];
    for (let i = this.progress.of(batch); i < detections.length; i++) {
      const wait = this.notBefore - this.now();
      if (wait > 0) await sleep(wait);
      const d = detections[i]!;
      const body = JSON.stringify(format(d));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': `authwatch/${VERSION}`,
        'idempotency-key': d.alert.alert_id,
        [SIGNATURE_HEADER]: sign(this.options.secret, body, this.now()),
        ...(this.options.keyId ? { [KEY_ID_HEADER]: this.options.keyId } : {}),
      };
      let status: number;
      let said = '';
      let retryAfter: string | string[] | undefined;
      try {
        const reply = await post(this.url, Buffer.from(body, 'utf8'), headers, {
          timeoutMs: this.options.timeoutMs,
          tls: this.options.tls,
        });
        status = reply.status;
        said = reply.body.trim().slice(0, 300);
        retryAfter = reply.headers['retry-after'];
      } catch (err) {
        this.lastError = (err as Error).message;
        throw new ServiceError('webhook', `The webhook at ${this.url.origin} did not answer: ${this.lastError}`, {
          retriable: true,
          cause: err,
        });
      }
      if (status < 200 || status >= 300) {
        const retriable = retriableStatus(status);
        const after = retryAfterMs(retryAfter, this.now());
        if (retriable && after !== undefined) this.notBefore = this.now() + after;
        this.lastError = `HTTP ${status}${said ? `: ${said}` : ''}`;
        throw new ServiceError(
          'webhook',
          `The webhook at ${this.url.origin} ${retriable ? 'is busy or down' : 'refused'} alert ${d.alert.alert_id} (${this.lastError})${retriable ? '' : '; no retry can change that: check the URL and the key'}.`,
          { retriable },
        );
      }
      this.counters.requests++;
      this.delivered++;
      this.counters.bytes += body.length;
      this.progress.set(batch, i + 1);
    }
    this.lastError = undefined;
  }

  healthcheck(): Promise<SinkHealth> {
    return Promise.resolve(this.lastError === undefined ? { ok: true } : { ok: false, detail: this.lastError });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
