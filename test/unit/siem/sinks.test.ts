import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthwatchError } from '../../../src/errors.js';
import { loadConfig } from '../../../src/config/config.js';
import { HecSink, hecEndpoint, type HecSinkOptions } from '../../../src/siem/hecSink.js';
import { siemSinks } from '../../../src/siem/sinks.js';
import { syslogMessage, SyslogSink, type SyslogSinkOptions } from '../../../src/siem/syslogSink.js';
import { WebhookSink } from '../../../src/siem/webhookSink.js';
import { toJson, toOcsf, type Detection } from '../../../src/siem/formats.js';
import { verify } from '../../../src/sinks/signature.js';
import type { SinkBatch } from '../../../src/sinks/sink.js';
import { parseCef } from '../../support/cef.js';
import { HttpReceiver } from '../../support/httpReceiver.js';

const detections = JSON.parse(readFileSync('test/golden/siem/detections.json', 'utf8')) as Detection[];
const batchOf = (ds: Detection[]): SinkBatch => ({
  alerts: ds.map((d) => d.alert),
  actions: ds.flatMap((d) => d.actions),
  deadLetters: [],
});
const TOKEN = '3f1c9a52-hec-token-for-tests';
const SECRET = 'a webhook secret of some length';

/** What the pipeline does with a write: tries again while the error is retriable. */
async function retried(write: () => Promise<void>, attempts = 5): Promise<number> {
  for (let i = 1; ; i++) {
    try {
      await write();
      return i;
    } catch (err) {
      if (!(err instanceof AuthwatchError) || !err.retriable || i >= attempts) throw err;
    }
  }
}

describe('Splunk HEC sink (loopback collector)', () => {
  let hec: HttpReceiver;
  const options = (o: Partial<HecSinkOptions> = {}): HecSinkOptions => ({
    url: o.url ?? hec.url,
    token: TOKEN,
    index: 'security',
    source: 'authwatch',
    sourcetype: 'authwatch:alert',
    host: 'hec-test',
    batchMaxEvents: 3,
    batchMaxBytes: 1_000_000,
    gzip: true,
    ack: false,
    ackTimeoutMs: 2000,
    ackPollMs: 20,
    timeoutMs: 2000,
    ...o,
  });
  beforeEach(async () => {
    hec = await HttpReceiver.start();
  });
  afterEach(async () => {
    await hec.stop();
  });

  it('posts gzip batches of events to the event endpoint with the token, each alert once with its actions', async () => {
    const sink = new HecSink(options());
    await sink.write(batchOf(detections));
    expect(hec.requests).toHaveLength(Math.ceil(detections.length / 3));
    for (const r of hec.requests) {
      expect(r).toMatchObject({ method: 'POST', path: '/services/collector/event' });
      expect(r.headers.authorization).toBe(`Splunk ${TOKEN}`);
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.raw.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    }
    const events = hec.requests.flatMap((r) => r.body.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
    expect(events.map((e) => (e.event as { alert_id: string }).alert_id)).toEqual(
      detections.map((d) => d.alert.alert_id),
    );
    events.forEach((e, i) => {
      expect(e).toMatchObject({
        host: 'hec-test',
        index: 'security',
        source: 'authwatch',
        sourcetype: 'authwatch:alert',
      });
      expect(e.time).toBe(detections[i]!.alert.detected_at / 1000);
      expect(e.event).toEqual(toJson(detections[i]!));
    });
    expect(sink.counters).toMatchObject({ events: detections.length, requests: hec.requests.length });
  });

  it('splits by bytes too, and sends plain JSON without gzip', async () => {
    const sink = new HecSink(options({ batchMaxEvents: 1000, batchMaxBytes: 4000, gzip: false }));
    await sink.write(batchOf(detections));
    expect(hec.requests.length).toBeGreaterThan(1);
    for (const r of hec.requests) {
      expect(r.headers['content-encoding']).toBeUndefined();
      // A request holds more than one event unless one event alone is over the limit.
      const lines = r.body.split('\n');
      expect(lines.length === 1 || r.raw.length <= 4000).toBe(true);
    }
    expect(hec.requests.flatMap((r) => r.body.split('\n'))).toHaveLength(detections.length);
  });

  it('on 503 and 429 fails retriably, waits what Retry-After asks, and goes on without sending accepted events again', async () => {
    let n = 0;
    hec.reply = (_req, res) => {
      n++;
      if (n === 2) return res.writeHead(503, { 'retry-after': '1' }).end('{"text":"Server is busy","code":9}');
      if (n === 4) return res.writeHead(429).end('{"text":"Too many requests"}');
      res.writeHead(200).end('{"text":"Success","code":0}');
    };
    const sink = new HecSink(options());
    const batch = batchOf(detections);
    const started = Date.now();
    const err = await sink.write(batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthwatchError);
    expect((err as AuthwatchError).retriable).toBe(true);
    expect((err as Error).message).toMatch(/busy or down .*HTTP 503.*Server is busy/);
    expect((err as Error).message).not.toContain(TOKEN);
    expect((await sink.healthcheck()).ok).toBe(false);
    expect(await retried(() => sink.write(batch))).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1
    const accepted = hec.requests.filter((_, i) => i !== 1 && i !== 3);
    const ids = accepted.flatMap((r) =>
      r.body.split('\n').map((l) => (JSON.parse(l) as { event: { alert_id: string } }).event.alert_id),
    );
    expect(ids).toEqual(detections.map((d) => d.alert.alert_id));
    expect((await sink.healthcheck()).ok).toBe(true);
  });

  it('refuses to retry what no retry changes: a bad token', async () => {
    hec.reply = (_req, res) => res.writeHead(403).end('{"text":"Invalid token","code":4}');
    const err = (await new HecSink(options()).write(batchOf(detections)).catch((e: unknown) => e)) as AuthwatchError;
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/refused .*HTTP 403.*Invalid token.*check the token/);
    expect(err.message).not.toContain(TOKEN);
  });

  it('with indexer acknowledgement, resolves only once the collector says the events are indexed', async () => {
    let polls = 0;
    hec.reply = (req, res) => {
      if (req.path === '/services/collector/event')
        return res.writeHead(200).end('{"text":"Success","code":0,"ackId":7}');
      polls++;
      res.writeHead(200).end(JSON.stringify({ acks: { 7: polls >= 3 } }));
    };
    const sink = new HecSink(options({ batchMaxEvents: 1000, ack: true }));
    await sink.write(batchOf(detections.slice(0, 2)));
    expect(polls).toBe(3);
    const [send, ...acks] = hec.requests;
    const channel = send!.headers['x-splunk-request-channel'];
    expect(channel).toMatch(/^[0-9a-f-]{36}$/);
    for (const a of acks) {
      expect(a.path).toBe('/services/collector/ack');
      expect(a.headers['x-splunk-request-channel']).toBe(channel);
      expect(JSON.parse(a.body)).toEqual({ acks: [7] });
    }
  });

  it('sends again what is not acknowledged in time, and says when the token has acknowledgement off', async () => {
    hec.reply = (req, res) =>
      req.path === '/services/collector/event'
        ? res.writeHead(200).end('{"text":"Success","code":0,"ackId":1}')
        : res.writeHead(200).end('{"acks":{"1":false}}');
    const late = await new HecSink(options({ ack: true, ackTimeoutMs: 100 }))
      .write(batchOf(detections.slice(0, 1)))
      .catch((e: unknown) => e as AuthwatchError);
    expect(late).toMatchObject({ retriable: true, message: expect.stringMatching(/did not acknowledge request 1/) });
    hec.reply = (_req, res) => res.writeHead(200).end('{"text":"Success","code":0}');
    const off = await new HecSink(options({ ack: true }))
      .write(batchOf(detections.slice(0, 1)))
      .catch((e: unknown) => e as AuthwatchError);
    expect(off).toMatchObject({ retriable: false, message: expect.stringMatching(/without an ackId/) });
  });

  it('fails retriably while nothing listens', async () => {
    const url = hec.url;
    await hec.stop();
    const err = (await new HecSink(options({ url }))
      .write(batchOf(detections))
      .catch((e: unknown) => e)) as AuthwatchError;
    expect(err.retriable).toBe(true);
    expect(err.message).toMatch(/did not answer/);
    hec = await HttpReceiver.start();
  });

  it('takes the event endpoint unless the URL names a path', () => {
    expect(hecEndpoint('https://splunk.example:8088').href).toBe(
      'https://splunk.example:8088/services/collector/event',
    );
    expect(hecEndpoint('https://splunk.example/hec/raw/collector').pathname).toBe('/hec/raw/collector');
  });
});

describe('webhook sink (loopback receiver)', () => {
  let hook: HttpReceiver;
  beforeEach(async () => {
    hook = await HttpReceiver.start();
  });
  afterEach(async () => {
    await hook.stop();
  });

  it('posts each alert once, signed over its body with the time, so a receiver verifies it and refuses a replay', async () => {
    const sink = new WebhookSink({
      url: `${hook.url}/alerts`,
      secret: SECRET,
      keyId: 'k1',
      format: 'ocsf',
      timeoutMs: 2000,
    });
    await sink.write(batchOf(detections));
    expect(hook.requests).toHaveLength(detections.length);
    hook.requests.forEach((r, i) => {
      expect(r.path).toBe('/alerts');
      expect(r.headers['idempotency-key']).toBe(detections[i]!.alert.alert_id);
      expect(r.headers['authwatch-key-id']).toBe('k1');
      expect(JSON.parse(r.body)).toEqual(toOcsf(detections[i]!));
      const header = r.headers['authwatch-signature'] as string;
      // Valid as sent.
      expect(verify(SECRET, r.body, header, { now: r.at })).toMatchObject({ ok: true });
      // Tampered: a changed body, or the signature moved to another time.
      expect(
        verify(SECRET, r.body.replace(/"severity_id":\d/, '"severity_id":1'), header, { now: r.at }),
      ).toMatchObject({
        ok: false,
      });
      const t = Number(/t=(\d+)/.exec(header)![1]);
      expect(verify(SECRET, r.body, header.replace(`t=${t}`, `t=${t + 1}`), { now: r.at })).toMatchObject({
        ok: false,
      });
      // Stale: the same request sent again ten minutes later.
      expect(verify(SECRET, r.body, header, { now: r.at + 600_000 })).toMatchObject({ ok: false, reason: /600 s/ });
    });
  });

  it('on 5xx fails retriably and goes on from the alert not delivered, signed anew; a 4xx is not retried', async () => {
    let n = 0;
    let clock = Date.UTC(2026, 10, 30);
    hook.reply = (_req, res) => {
      n++;
      clock += 1000;
      res.writeHead(n === 3 ? 502 : 204).end();
    };
    const sink = new WebhookSink({ url: hook.url, secret: SECRET, format: 'json', timeoutMs: 2000, now: () => clock });
    const batch = batchOf(detections);
    expect(await retried(() => sink.write(batch))).toBe(2);
    const delivered = hook.requests
      .filter((_, i) => i !== 2)
      .map((r) => (JSON.parse(r.body) as { alert_id: string }).alert_id);
    expect(delivered).toEqual(detections.map((d) => d.alert.alert_id));
    expect(hook.requests[3]!.headers['authwatch-signature']).not.toBe(hook.requests[2]!.headers['authwatch-signature']);
    hook.reply = (_req, res) => res.writeHead(401).end('bad signature');
    const err = (await sink.write(batchOf(detections.slice(0, 1))).catch((e: unknown) => e)) as AuthwatchError;
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/refused .*HTTP 401: bad signature/);
    expect(err.message).not.toContain(SECRET);
  });
});

describe('syslog sink (loopback listeners)', () => {
  const base: Omit<SyslogSinkOptions, 'port' | 'protocol'> = {
    host: '127.0.0.1',
    facility: 10,
    hostname: 'syslog-test',
    appName: 'authwatch',
    maxMessageBytes: 8192,
    timeoutMs: 2000,
  };

  /** Splits octet-counted frames (RFC 6587): `<length> <message>`, lengths in bytes. */
  function frames(data: Buffer): string[] {
    const out: string[] = [];
    let at = 0;
    while (at < data.length) {
      const space = data.indexOf(0x20, at);
      const len = Number(data.subarray(at, space).toString('ascii'));
      out.push(data.subarray(space + 1, space + 1 + len).toString('utf8'));
      at = space + 1 + len;
    }
    return out;
  }

  it('frames RFC 5424 messages by octet count over TCP, PRI from facility and level, CEF as the message', async () => {
    const received: Buffer[] = [];
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on('data', (c) => received.push(c));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const sink = new SyslogSink({ ...base, port, protocol: 'tcp', now: () => Date.UTC(2026, 10, 30, 12) });
    try {
      await sink.write(batchOf(detections));
      // The collector closes the connection: the next write makes a new one.
      for (const s of sockets) s.end();
      await new Promise((r) => setTimeout(r, 50));
      await retried(() => sink.write(batchOf(detections.slice(0, 1))));
      await new Promise((r) => setTimeout(r, 50));
      const messages = frames(Buffer.concat(received));
      expect(messages).toHaveLength(detections.length + 1);
      expect(sink.counters.connections).toBe(2);
      messages.slice(0, detections.length).forEach((m, i) => {
        const d = detections[i]!;
        const sev = { critical: 2, high: 3, medium: 4, low: 5, informational: 6 }[d.alert.level];
        const head = `<${10 * 8 + sev}>1 2026-11-30T12:00:00.000Z syslog-test authwatch ${process.pid} alert - `;
        expect(m.startsWith(head)).toBe(true);
        expect(parseCef(m.slice(head.length)).extension.externalId).toBe(d.alert.alert_id);
      });
    } finally {
      await sink.close();
      server.close();
    }
  });

  it('sends a datagram per message over UDP, and fails retriably while nothing listens on TCP', async () => {
    const udp = createSocket('udp4');
    const got: string[] = [];
    udp.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const sink = new SyslogSink({ ...base, port: udp.address().port, protocol: 'udp' });
    await sink.write(batchOf(detections));
    await new Promise((r) => setTimeout(r, 100));
    expect(got.map((m) => parseCef(m.slice(m.indexOf('CEF:'))).extension.externalId)).toEqual(
      detections.map((d) => d.alert.alert_id),
    );
    udp.close();
    await sink.close();

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const err = (await new SyslogSink({ ...base, port, protocol: 'tcp' })
      .write(batchOf(detections))
      .catch((e: unknown) => e)) as AuthwatchError;
    expect(err.retriable).toBe(true);
    expect(err.message).toMatch(/failed after 0 of/);
  });

  it('cuts a message to the size limit at the description, never inside a character or an escape', () => {
    const d = detections.find((x) => x.alert.description && x.alert.description.length > 600)!;
    const long = { ...d, alert: { ...d.alert, description: `${'ü\\='.repeat(400)}` } };
    for (const max of [600, 601, 602, 603, 604, 605]) {
      const m = syslogMessage(long, { ...base, port: 514, protocol: 'tcp', maxMessageBytes: max }, 0);
      expect(Buffer.byteLength(m)).toBeLessThanOrEqual(max);
      const cef = parseCef(m.slice(m.indexOf('CEF:')));
      expect(cef.extension.externalId).toBe(d.alert.alert_id);
      expect(long.alert.description.startsWith(cef.extension.msg!)).toBe(true);
    }
  });
});

describe('SIEM sinks from the configuration', () => {
  const load = (env: Record<string, string>) => loadConfig({ env });

  it('turns on what is configured, and refuses a HEC without a token or a webhook without a secret', () => {
    expect(siemSinks(load({}))).toEqual([]);
    const on = siemSinks(
      load({
        AUTHWATCH_SINKS_SYSLOG_HOST: 'collector',
        AUTHWATCH_SINKS_SYSLOG_PROTOCOL: 'udp',
        AUTHWATCH_SINKS_HEC_URL: 'https://splunk:8088',
        AUTHWATCH_SINKS_HEC_TOKEN: TOKEN,
        AUTHWATCH_SINKS_WEBHOOK_URL: 'https://soar/hook',
        AUTHWATCH_SINKS_WEBHOOK_SECRET: SECRET,
      }),
    );
    expect(on.map((s) => s.name)).toEqual(['syslog', 'hec', 'webhook']);
    expect(() => siemSinks(load({ AUTHWATCH_SINKS_HEC_URL: 'https://splunk:8088' }))).toThrow(
      /sinks\.hec\.token is not: set AUTHWATCH_SINKS_HEC_TOKEN/,
    );
    expect(() => siemSinks(load({ AUTHWATCH_SINKS_WEBHOOK_URL: 'https://soar/hook' }))).toThrow(
      /sinks\.webhook\.secret is not/,
    );
    expect(() => load({ AUTHWATCH_SINKS_WEBHOOK_SECRET: 'short' })).toThrow(/sinks\.webhook\.secret/);
    expect(() =>
      siemSinks(
        load({
          AUTHWATCH_SINKS_SYSLOG_HOST: 'collector',
          AUTHWATCH_SINKS_SYSLOG_PROTOCOL: 'tls',
          AUTHWATCH_SINKS_SYSLOG_TLS_CA_FILE: '/nonexistent/ca.pem',
        }),
      ),
    ).toThrow(/sinks\.syslog\.tls\.ca_file: cannot read \/nonexistent\/ca\.pem/);
  });
});
