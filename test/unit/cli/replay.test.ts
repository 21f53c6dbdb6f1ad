import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { Alert } from '../../../src/engine/alert.js';
import { EXIT_FORCED } from '../../../src/cli/stopRequest.js';
import type { DeadLetter } from '../../../src/events/deadLetter.js';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

const MIXED = 'test/fixtures/events/mixed.ndjson';
const STUFFING = 'test/fixtures/events/stuffing.ndjson';
const RULES = 'test/fixtures/rules/replay';

describe('authwatch replay', () => {
  it.each([MIXED, `${MIXED}.gz`])('counts events and dead letters by reason in %s', async (input) => {
    expect(await main(['replay', '--input', input, '--no-enrich', '--max-record-bytes', '2048'])).toBe(0);
    expect(err).toMatch(/replayed 15 record\(s\) in [\d.]+s: 9 event\(s\), 6 dead letter\(s\)/);
    expect(err).toContain('events by source: okta 6, auth0 2, generic 1');
    expect(err).toContain(
      'dead letters by reason: too_large 1, invalid_utf8 1, invalid_json 1, not_an_object 1, unknown_format 1, invalid_time 1',
    );
  });

  it('writes dead letters with reason, line and the original bytes', async () => {
    const dlq = join(mkdtempSync(join(tmpdir(), 'authwatch-replay-')), 'dlq.ndjson');
    expect(await main(['replay', '--input', MIXED, '--no-enrich', '--max-record-bytes', '2048', '--dlq', dlq])).toBe(0);
    const letters = readFileSync(dlq, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DeadLetter);
    expect(letters.map((l) => [l.reason, l.position.line])).toEqual([
      ['invalid_json', 11],
      ['invalid_utf8', 12],
      ['unknown_format', 13],
      ['not_an_object', 14],
      ['invalid_time', 15],
      ['too_large', 16],
    ]);
    const original = readFileSync(MIXED).subarray(0).toString('latin1').split('\n');
    for (const l of letters) {
      expect(Buffer.from(l.original_base64, 'base64').toString('latin1')).toBe(original[l.position.line! - 1]);
      expect(l.source).toBe(`file:${MIXED}`);
    }
  });

  it('writes the canonical events with --events', async () => {
    expect(await main(['replay', '--input', MIXED, '--no-enrich', '--events'])).toBe(0);
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toHaveLength(9);
    expect(events.every((e) => e.raw === undefined)).toBe(true);
    expect(events.map((e) => e.type)).toContain('mfa.push.rejected');
  });

  it('runs the rules on event time and writes alerts, and actions with --actions', async () => {
    const actionsFile = join(mkdtempSync(join(tmpdir(), 'authwatch-replay-')), 'actions.ndjson');
    const args = ['replay', '--input', STUFFING, '--rules', RULES, '--actions', actionsFile];
    expect(await main(args)).toBe(0);
    const alerts = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Alert);
    // 12 users from one IP: the window fires at 5 distinct users, resets, fires again at 10
    expect(alerts.map((a) => [a.rule_title, a.group, a.event_count])).toEqual([
      ['Credential stuffing from one IP', { ip: '185.220.101.4' }, 5],
      ['Credential stuffing from one IP', { ip: '185.220.101.4' }, 5],
    ]);
    expect(alerts[0]!.distinct_values).toHaveLength(5);
    const actions = readFileSync(actionsFile, 'utf8').trim().split('\n');
    // The second alert's block of the same IP is not published again while the first is in force.
    expect(actions.map((l) => (JSON.parse(l) as { target: unknown }).target)).toEqual([
      { kind: 'ip', value: '185.220.101.4' },
    ]);
    expect(err).toMatch(/alerts: 2 \(0 suppressed\), actions: 1 \(1 still in force, 0 with an invalid target\)/);
  });

  it('gives byte-identical alerts when the same file is replayed twice', async () => {
    const args = ['replay', '--input', STUFFING, '--rules', RULES];
    expect(await main(args)).toBe(0);
    const first = out;
    out = '';
    expect(await main(args)).toBe(0);
    expect(first.length).toBeGreaterThan(100);
    expect(out).toBe(first);
  });

  it('enriches events by default', async () => {
    expect(await main(['replay', '--input', MIXED, '--events'])).toBe(0);
    const google = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ip?: string; asn?: number; geo?: { country?: string } })
      .find((e) => e.ip === '8.8.8.8');
    expect(google).toMatchObject({ asn: 15169, geo: { country: 'US' } });
  });

  it('says in the summary which rules forgot window entries at the group bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authwatch-replay-bound-'));
    writeFileSync(
      join(dir, 'few.yml'),
      [
        'title: failed',
        'name: failed',
        'logsource: {product: authwatch}',
        'detection: {sel: {type: login.failure}, condition: sel}',
        '---',
        'title: few users from one address',
        'id: 4d0c7b3e-9a1f-4e6d-8b2a-5c7e9f1a3b5d',
        'correlation: {type: value_count, rules: [failed], group-by: [ip], field: user.name, timespan: 24h, condition: {lt: 2}}',
        '',
      ].join('\n'),
    );
    const lines: string[] = [];
    for (let i = 0; i < 12_000; i++) {
      const time = new Date(Date.UTC(2026, 0, 5) + i * 1000).toISOString();
      lines.push(
        JSON.stringify({
          id: `e${i}`,
          time,
          type: 'login.failure',
          outcome: 'failure',
          ip: '203.0.113.5',
          user: { name: 'x' },
        }),
      );
    }
    writeFileSync(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
    expect(
      await main(['replay', '--input', join(dir, 'in.ndjson'), '--rules', join(dir, 'few.yml'), '--no-enrich']),
    ).toBe(0);
    expect(err).toMatch(
      /window entries forgotten at the group bound \(engine\.max_entries_per_group\): 4d0c7b3e-9a1f-4e6d-8b2a-5c7e9f1a3b5d \d+/,
    );
  });

  it('exits 2 with usage on bad arguments', async () => {
    expect(await main(['replay'])).toBe(2);
    expect(await main(['replay', '--input', MIXED, '--format', 'xml'])).toBe(2);
    expect(await main(['replay', '--input', MIXED, '--events', '--rules', RULES])).toBe(2);
    expect(err).toContain('usage: authwatch replay');
  });
});

describe('authwatch replay on hostile records', () => {
  it('sets aside a record nested 5,000 deep and goes on, a keyword rule loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authwatch-hostile-'));
    const input = join(dir, 'deep.ndjson');
    const deep = `${'['.repeat(5000)}"curl"${']'.repeat(5000)}`;
    const record = (id: string, details: string, agent: string) =>
      `{"log_id":"${id}","data":{"log_id":"${id}","date":"2026-01-01T00:00:00.000Z","type":"s","user_name":"a","ip":"81.2.69.1","user_agent":"${agent}","details":${details}}}`;
    writeFileSync(input, [record('1', `{"deep":${deep}}`, 'ok'), record('2', '{}', 'curl/8')].join('\n') + '\n');
    const dlq = join(dir, 'dlq.ndjson');
    expect(await main(['replay', '--input', input, '--rules', 'test/fixtures/rules/hostile', '--dlq', dlq])).toBe(0);
    expect(err).toMatch(/replayed 2 record\(s\) in [\d.]+s: 1 event\(s\), 1 dead letter\(s\)/);
    expect(err).toContain('dead letters by reason: too_deep 1');
    expect((JSON.parse(out.trim()) as Alert).entities.user).toBe('a');
    expect(JSON.parse(readFileSync(dlq, 'utf8')) as DeadLetter).toMatchObject({
      reason: 'too_deep',
      position: { line: 1 },
    });
  });
});

describe('authwatch replay on a damaged gzip file', () => {
  it('replays what decompressed, sets the damaged rest aside, prints the summary and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authwatch-gzip-'));
    const lines = Array.from({ length: 5000 }, (_, i) =>
      JSON.stringify({
        id: `e${i}`,
        type: 'login.success',
        time: Date.UTC(2026, 0, 1) + i * 1000,
        user: { name: `u${i}` },
      }),
    );
    const gz = gzipSync(`${lines.join('\n')}\n`);
    const input = join(dir, 'cut.ndjson.gz');
    writeFileSync(input, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const dlq = join(dir, 'dlq.ndjson');
    expect(await main(['replay', '--input', input, '--no-enrich', '--dlq', dlq])).toBe(0);
    const m = /replayed (\d+) record\(s\) in [\d.]+s: (\d+) event\(s\), 1 dead letter\(s\)/.exec(err);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(2000);
    expect(err).toContain('dead letters by reason: invalid_gzip 1');
    const letter = JSON.parse(readFileSync(dlq, 'utf8')) as DeadLetter;
    expect(letter).toMatchObject({ reason: 'invalid_gzip', position: { line: Number(m![2]) + 1 } });
  });
});

describe('authwatch replay stopped early', () => {
  const many = () => {
    const dir = mkdtempSync(join(tmpdir(), 'authwatch-stop-'));
    const input = join(dir, 'failures.ndjson');
    // 20,000 failures from one address, 10 users at a time: an alert every few records.
    const lines = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({
        id: `f${i}`,
        type: 'login.failure',
        time: Date.UTC(2026, 0, 1) + i * 10_000,
        user: { name: `u${i}` },
        ip: '185.220.101.4',
      }),
    );
    writeFileSync(input, `${lines.join('\n')}\n`);
    return input;
  };

  /** Lets `n` alerts through stdout, then does `then` (once). */
  function afterAlerts(n: number, then: () => void): void {
    let alerts = 0;
    vi.mocked(process.stdout.write).mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      if (++alerts === n) then();
      return true;
    });
  }

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    'on %s: writes what it has, prints the summary, exits 0',
    async (signal) => {
      afterAlerts(5, () => process.emit(signal, signal));
      expect(await main(['replay', '--input', many(), '--no-enrich', '--rules', RULES])).toBe(0);
      expect(err).toMatch(new RegExp(`^stopped \\(${signal}\\): replayed (\\d+) record\\(s\\)`));
      const records = Number(/replayed (\d+) record/.exec(err)![1]);
      expect(records).toBeLessThan(20_000);
      expect(out.trim().split('\n').length).toBeGreaterThanOrEqual(5);
      expect(process.listenerCount(signal)).toBe(0); // its handlers are gone with it
    },
  );

  it('when the reader of stdout goes away (`| head`): no EPIPE, the summary, exit 0', async () => {
    afterAlerts(3, () => {
      const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      process.stdout.emit('error', epipe);
    });
    expect(await main(['replay', '--input', many(), '--no-enrich', '--rules', RULES])).toBe(0);
    expect(err).toMatch(/^stopped \(stdout closed\): replayed \d+ record\(s\)/);
    expect(out.trim().split('\n')).toHaveLength(3); // nothing written after it went away
  });

  it('a second signal exits at once, with the documented status', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
    afterAlerts(2, () => {
      process.emit('SIGTERM', 'SIGTERM');
      expect(() => process.emit('SIGTERM', 'SIGTERM')).toThrow('exit 1');
    });
    expect(await main(['replay', '--input', many(), '--no-enrich', '--rules', RULES])).toBe(0);
    expect(exit).toHaveBeenCalledWith(EXIT_FORCED);
  });

  it('reads a last line that has no line break', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authwatch-last-'));
    const input = join(dir, 'last.ndjson');
    writeFileSync(
      input,
      '{"type":"login.success","time":1767225600000,"user":{"name":"a"}}\n{"type":"login.success","time":1767225601000}',
    );
    expect(await main(['replay', '--input', input, '--no-enrich'])).toBe(0);
    expect(err).toMatch(/^replayed 2 record\(s\) in [\d.]+s: 2 event\(s\)/);
  });
});

describe('authwatch run without Kafka, stopped early', () => {
  it('on SIGTERM stops reading, writes what it has and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authwatch-runstop-'));
    const input = join(dir, 'failures.ndjson');
    const lines = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({
        id: `f${i}`,
        type: 'login.failure',
        time: Date.UTC(2026, 0, 1) + i * 10_000,
        user: { name: `u${i}` },
        ip: '185.220.101.4',
      }),
    );
    writeFileSync(input, `${lines.join('\n')}\n`);
    const config = join(dir, 'authwatch.yaml');
    writeFileSync(
      config,
      `log_level: silent\ninput: {path: ${input}}\nrules: {paths: [${RULES}]}\nenrich: {geo: false, asn: false}\nclickhouse: {enabled: false}\n`,
    );
    let alerts = 0;
    vi.mocked(process.stdout.write).mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      if (++alerts === 4) process.emit('SIGTERM', 'SIGTERM');
      return true;
    });
    expect(await main(['run', '--config', config])).toBe(0);
    const written = out.trim().split('\n').length;
    expect(written).toBeGreaterThanOrEqual(4);
    expect(written).toBeLessThan(4000); // 20,000 failures make 4,000 alerts; it stopped well before
  });
});

describe('authwatch replay on values that are no fact', () => {
  it('does not block the IP "null": Okta failures with ipAddress "null" lose the ip, not the event', async () => {
    const records = Array.from({ length: 12 }, (_, i) => ({
      uuid: `0f1e2d3c-8b7d-11ef-9a1b-0242ac12${String(i).padStart(4, '0')}`,
      published: new Date(Date.UTC(2026, 10, 20, 8, 16, i * 5)).toISOString(),
      eventType: 'user.session.start',
      actor: { id: 'unknown', type: 'User', alternateId: `user${i}@example.org`, displayName: 'unknown' },
      client: {
        userAgent: { rawUserAgent: 'okta-sdk-java/8.2.1' },
        ipAddress: 'null',
        geographicalContext: { city: 'City', country: 'Country', geolocation: { lat: 0, lon: 0 } },
      },
      authenticationContext: { externalSessionId: 'unknown' },
      outcome: { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' },
      securityContext: { asNumber: null, asOrg: null, isp: null, domain: null, isProxy: null },
      target: null,
    }));
    const input = join(mkdtempSync(join(tmpdir(), 'authwatch-replay-')), 'okta-null-ip.ndjson');
    writeFileSync(input, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const actionsFile = join(mkdtempSync(join(tmpdir(), 'authwatch-replay-')), 'actions.ndjson');
    expect(await main(['replay', '--input', input, '--actions', actionsFile])).toBe(0);
    expect(out).not.toContain('"null"');
    expect(readFileSync(actionsFile, 'utf8')).toBe('');
    expect(err).toContain('12 event(s), 0 dead letter(s)');
    expect(err).toMatch(
      /values taken out of kept events: ip not_an_address 12, geo\.lat\/lon placeholder 12, geo\.city placeholder 12/,
    );
  });
});
