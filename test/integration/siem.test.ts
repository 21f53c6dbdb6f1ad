import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/engine/alert.js';
import { createKafkaClient, type KafkaClient } from '../../src/kafka/kafkaClient.js';
import { verify } from '../../src/sinks/signature.js';
import {
  AuthwatchProcess,
  distinctIds,
  produceLines,
  readJson,
  replayLines,
  testTopics,
  writeConfig,
} from '../support/authwatchProcess.js';
import { parseCef } from '../support/cef.js';
import { HttpReceiver } from '../support/httpReceiver.js';
import { Rsyslog, type RsyslogMessage } from '../support/rsyslog.js';
import { testConfig } from '../support/services.js';
import { authTraffic } from '../support/traffic.js';

/**
 * Detections reaching a SIEM as `authwatch run` sends them: CEF in RFC 5424 messages to a real
 * rsyslog (Debian's, started here on loopback ports) over TCP, UDP and TLS, each message
 * written to a file and parsed back to its alert; a Splunk HEC and a signed webhook on
 * loopback HTTP servers, one of them busy at first.
 */
const BIN = resolve('bin/authwatch.js');
const dir = mkdtempSync(join(tmpdir(), 'authwatch-siem-'));
const SECRET = 'the webhook secret of this test';
const TOKEN = 'hec-token-of-this-test';
let rsyslog: Rsyslog;

beforeAll(async () => {
  rsyslog = await Rsyslog.start({ tls: true });
}, 30_000);

afterAll(async () => {
  await rsyslog?.stop();
});

/** The CEF of a message, checked against the alert it names. */
function expectCefOf(m: RsyslogMessage, byId: Map<string, Alert>): string {
  const cef = parseCef(m.msg);
  const alert = byId.get(cef.extension.externalId!);
  expect(alert, `an alert for ${m.msg.slice(0, 120)}`).toBeDefined();
  const a = alert!;
  expect(cef).toMatchObject({ vendor: 'authwatch', signatureId: a.rule_id, name: a.rule_title });
  expect(Number(cef.extension.rt)).toBe(a.detected_at);
  expect(Number(cef.extension.cnt)).toBe(a.event_count);
  expect(cef.extension.suser).toBe(a.entities.user);
  expect(cef.extension.src ?? cef.extension.c6a2).toBe(a.entities.ip);
  expect(cef.extension.msg).toBe(a.description);
  const sev = { critical: 2, high: 3, medium: 4, low: 5, informational: 6 }[a.level];
  expect(m).toMatchObject({
    pri: 10 * 8 + sev,
    version: '1',
    hostname: 'siem-test',
    appName: 'authwatch',
    msgId: 'alert',
  });
  return a.alert_id;
}

describe('authwatch run → rsyslog (CEF over RFC 5424)', () => {
  const { lines } = authTraffic({ seed: 61, events: 6000, attacks: 3 });
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, `${lines.join('\n')}\n`);

  it.each(['tcp', 'udp', 'tls'] as const)(
    'over %s: every alert arrives once and parses back to itself',
    async (protocol) => {
      const ca = join(dir, 'ca.pem');
      writeFileSync(ca, protocol === 'tls' ? rsyslog.caPem : '');
      const port = { tcp: rsyslog.tcpPort, udp: rsyslog.udpPort, tls: rsyslog.tlsPort }[protocol];
      const config = join(dir, `${protocol}.yaml`);
      writeFileSync(
        config,
        stringify({
          log_level: 'warn',
          clickhouse: { enabled: false },
          sinks: {
            syslog: {
              host: '127.0.0.1',
              port,
              protocol,
              hostname: 'siem-test',
              ...(protocol === 'tls' ? { tls: { ca_file: ca } } : {}),
            },
          },
        }),
      );
      const before = (await rsyslog.messages()).length;
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
      const r = spawnSync(process.execPath, [BIN, 'run', '--config', config, '--input', input], {
        env: clean,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(r.status, r.stderr).toBe(0);
      const alerts = r.stdout
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Alert);
      expect(alerts.length).toBeGreaterThan(10);
      const received = (await rsyslog.waitFor(before + alerts.length)).slice(before);
      await new Promise((res) => setTimeout(res, 300));
      expect((await rsyslog.messages()).length - before).toBe(alerts.length); // none twice
      expect(received.every((m) => m.input === protocol)).toBe(true);
      const byId = new Map(alerts.map((a) => [a.alert_id, a]));
      const ids = received.map((m) => expectCefOf(m, byId));
      expect(ids.sort()).toEqual(alerts.map((a) => a.alert_id).sort());
    },
  );
});

describe('authwatch run on Kafka → syslog, Splunk HEC and a signed webhook at once', () => {
  let kafka: KafkaClient;
  let hec: HttpReceiver;
  let hook: HttpReceiver;

  beforeAll(async () => {
    kafka = createKafkaClient({ brokers: testConfig().kafka.brokers, client_id: 'siem-test' });
    hec = await HttpReceiver.start();
    hook = await HttpReceiver.start();
  });

  afterAll(async () => {
    await kafka?.close().catch(() => undefined);
    await hec?.stop();
    await hook?.stop();
  });

  it('delivers each alert of the stream to all three, holding the stream while the collector is busy', async () => {
    const topics = testTopics('siem');
    await kafka.createTopics([{ name: topics.events, partitions: 3 }]);
    const { lines } = authTraffic({ seed: 62, events: 6000, attacks: 3 });
    const expected = replayLines(lines);
    let busy = 2;
    hec.reply = (req, res) => {
      if (req.headers.authorization !== `Splunk ${TOKEN}`)
        return res.writeHead(401).end('{"text":"Token is required","code":2}');
      if (busy-- > 0) return res.writeHead(503).end('{"text":"Server is busy","code":9}');
      res.writeHead(200).end('{"text":"Success","code":0}');
    };
    hook.reply = (req, res) => {
      const v = verify(SECRET, req.body, req.headers['authwatch-signature'] as string | undefined, { now: Date.now() });
      res.writeHead(v.ok ? 204 : 401).end(v.ok ? undefined : v.reason);
    };
    const before = (await rsyslog.messages()).length;
    const file = writeConfig(topics, testConfig().kafka.brokers, {
      clickhouse: { enabled: false },
      sinks: {
        syslog: { host: '127.0.0.1', port: rsyslog.tcpPort, hostname: 'siem-test' },
        hec: { url: hec.url, token: TOKEN, index: 'security', batch_max_events: 5 },
        webhook: { url: `${hook.url}/authwatch`, secret: SECRET, format: 'ocsf' },
      },
    });
    const proc = new AuthwatchProcess(file);
    try {
      await produceLines(kafka, topics.events, lines);
      await proc.caughtUp(lines.length);
      expect(await proc.metric('authwatch_sink_errors_total', 'sink="hec",retriable="true"')).toBe(2);
      for (const sink of ['syslog', 'hec', 'webhook'])
        expect(await proc.metric('authwatch_siem_alerts_total', `sink="${sink}"`)).toBe(expected.alerts.length);
      proc.kill('SIGTERM');
      expect((await proc.exited).code).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }
    const ids = distinctIds(expected.alerts);
    const published = distinctIds((await readJson<Alert>(kafka, topics.alerts)).map((r) => r.value));
    expect(published).toEqual(ids);

    const byId = new Map(expected.alerts.map((a) => [a.alert_id, a]));
    const syslog = (await rsyslog.messages()).slice(before);
    expect(syslog.map((m) => expectCefOf(m, byId)).sort()).toEqual(ids);

    const accepted = hec.requests.filter((r) => r.headers.authorization === `Splunk ${TOKEN}`).slice(2);
    for (const r of accepted) expect(r.headers['content-encoding']).toBe('gzip');
    const events = accepted.flatMap((r) =>
      r.body.split('\n').map((l) => JSON.parse(l) as { index: string; event: Alert }),
    );
    expect(accepted.every((r) => r.body.split('\n').length <= 5)).toBe(true);
    expect(events.every((e) => e.index === 'security')).toBe(true);
    expect(events.map((e) => e.event.alert_id).sort()).toEqual(ids); // each once, none lost to the 503s

    expect(hook.requests.every((r) => r.path === '/authwatch')).toBe(true);
    const findings = hook.requests.map((r) => JSON.parse(r.body) as { finding_info: { uid: string } });
    expect(findings.map((f) => f.finding_info.uid).sort()).toEqual(ids);
  }, 180_000);
});
