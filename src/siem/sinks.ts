import { hostname } from 'node:os';
import { durationMs, type Config } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { Sink } from '../sinks/sink.js';
import { HecSink } from './hecSink.js';
import { SyslogSink } from './syslogSink.js';
import { receiverTls } from './tlsOptions.js';
import { WebhookSink } from './webhookSink.js';

/** A sink to a SIEM: it counts the alerts it delivered. */
export interface SiemSink extends Sink {
  readonly delivered: number;
}

/**
 * The SIEM sinks the configuration turns on (syslog with a host, HEC and webhook with a url),
 * new ones at every call: each stage of `run` writes through its own. Throws a ConfigError when
 * one is on without what it needs (a token, a secret).
 */
export function siemSinks(config: Config): SiemSink[] {
  const { syslog, hec, webhook } = config.sinks;
  const sinks: SiemSink[] = [];
  if (syslog.host) {
    sinks.push(
      new SyslogSink({
        host: syslog.host,
        port: syslog.port ?? (syslog.protocol === 'tls' ? 6514 : 514),
        protocol: syslog.protocol,
        facility: syslog.facility,
        hostname: syslog.hostname ?? hostname(),
        appName: syslog.app_name,
        maxMessageBytes: syslog.max_message_bytes,
        timeoutMs: durationMs(syslog.timeout),
        ...(syslog.protocol === 'tls' ? { tls: receiverTls(syslog.tls, 'sinks.syslog') } : {}),
      }),
    );
  }
  if (hec.url) {
    if (!hec.token)
      throw new ConfigError(
        'sinks.hec.url is set but sinks.hec.token is not: set AUTHWATCH_SINKS_HEC_TOKEN (or the key in the file).',
      );
    sinks.push(
      new HecSink({
        url: hec.url,
        token: hec.token,
        ...(hec.index ? { index: hec.index } : {}),
        source: hec.source,
        sourcetype: hec.sourcetype,
        host: hec.host ?? hostname(),
        batchMaxEvents: hec.batch_max_events,
        batchMaxBytes: hec.batch_max_bytes,
        gzip: hec.gzip,
        ack: hec.ack,
        ackTimeoutMs: durationMs(hec.ack_timeout),
        timeoutMs: durationMs(hec.timeout),
        tls: receiverTls(hec.tls, 'sinks.hec'),
      }),
    );
  }
  if (webhook.url) {
    if (!webhook.secret)
      throw new ConfigError(
        'sinks.webhook.url is set but sinks.webhook.secret is not: set AUTHWATCH_SINKS_WEBHOOK_SECRET (or the key in the file). Webhook requests are always signed.',
      );
    sinks.push(
      new WebhookSink({
        url: webhook.url,
        secret: webhook.secret,
        ...(webhook.key_id ? { keyId: webhook.key_id } : {}),
        format: webhook.format,
        timeoutMs: durationMs(webhook.timeout),
        tls: receiverTls(webhook.tls, 'sinks.webhook'),
      }),
    );
  }
  return sinks;
}
