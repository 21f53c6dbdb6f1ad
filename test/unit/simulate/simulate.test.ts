import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { Engine } from '../../../src/engine/engine.js';
import { createEnrichers } from '../../../src/enrich/createEnrichers.js';
import { Ingest } from '../../../src/events/ingest.js';
import { emptyOutput, evaluate } from '../../../src/pipeline/evaluate.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { attacksOf } from '../../../src/simulate/demo.js';
import { formatEvent, type SimFormat } from '../../../src/simulate/formats.js';
import { ATTACK_KINDS, DEFAULT_START, simulate, type GroundTruth } from '../../../src/simulate/simulate.js';

const enrichers = createEnrichers({ geo: true, asn: true });
const pack = loadRulesWithValues(['detections']);

/** The stream of a scenario as records of `format`, through Ingest and the shipped pack. */
function detect(seed: number, format: SimFormat, users = 800, hours = 24) {
  const { events, truth } = simulate({ seed, users, hours, start: DEFAULT_START, attacks: ATTACK_KINDS });
  const ingest = new Ingest('sim', { enrichers, now: () => DEFAULT_START + 100 * 86_400_000 });
  const engine = new Engine(pack);
  const out = emptyOutput();
  events.forEach((e, i) => {
    const bytes = Buffer.from(JSON.stringify(formatEvent(e, format, seed, i)));
    const r = ingest.process(bytes, { line: i + 1 });
    if (!r.ok) out.deadLetters.push(r.deadLetter);
    else evaluate(engine, ingest, r.event, { bytes, position: { line: i + 1 } }, out);
  });
  engine.flush(out);
  return { alerts: out.alerts, truth, deadLetters: out.deadLetters, events: events.length };
}

/** The title (part) of the shipped rule that must catch each attack kind. */
const RULE_FOR: Record<(typeof ATTACK_KINDS)[number], string> = {
  credential_stuffing: 'Credential stuffing from one IP',
  distributed_stuffing: 'Distributed credential stuffing',
  stuffing_success: 'Successful login from an IP that is credential stuffing',
  brute_force: 'Password guessing against one account',
  password_spray: 'Password spraying from one IP',
  sms_pumping: "a destination the application's users do not verify from",
  mfa_fatigue: 'MFA fatigue',
  impossible_travel: 'Impossible travel',
  session_hijack: 'Session used from a different network',
  refresh_token_reuse: 'Refresh token reuse',
  disposable_signup: 'disposable email',
  signup_surge: 'Surge of signups',
};

describe('authwatch simulate: the shipped pack on the default scenario', () => {
  it.each([
    [1, 'canonical'],
    [2, 'canonical'],
    [3, 'auth0'],
    [4, 'okta'],
  ] as const)('seed %i as %s: every attack caught, no alert naming anything benign', (seed, format) => {
    const { alerts, truth, deadLetters, events } = detect(seed, format);
    expect(events).toBeGreaterThan(5_000);
    expect(deadLetters).toEqual([]);
    expect(truth.map((t) => t.kind)).toEqual([...ATTACK_KINDS]);
    // Each attack by the rule written for it, naming the attack's own addresses, users or sessions.
    const missed = truth.filter(
      (t) => !alerts.some((a) => a.rule_title.includes(RULE_FOR[t.kind]) && attacksOf(a, truth).includes(t)),
    );
    expect(missed.map((t) => t.kind)).toEqual([]);
    const benign = alerts
      .filter((a) => attacksOf(a, truth).length === 0)
      .map((a) => `${a.rule_title}: ${JSON.stringify(a.entities)}`);
    expect(benign).toEqual([]);
  });
});

describe('authwatch simulate (the command)', () => {
  let err = '';
  beforeEach(() => {
    err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const dir = mkdtempSync(join(tmpdir(), 'authwatch-simulate-'));
  const run = async (name: string, extra: string[]) => {
    const out = join(dir, name);
    expect(await main(['simulate', '--users', '300', '--hours', '12', '--out', out, ...extra])).toBe(0);
    return { events: readFileSync(out, 'utf8'), truth: readFileSync(`${out}.truth.ndjson`, 'utf8') };
  };

  it('writes the same bytes for the same seed, and others for another', async () => {
    for (const format of ['auth0', 'okta', 'canonical']) {
      const a = await run(`a-${format}`, ['--seed', '7', '--format', format, '--attack', 'all']);
      const b = await run(`b-${format}`, ['--seed', '7', '--format', format, '--attack', 'all']);
      const c = await run(`c-${format}`, ['--seed', '8', '--format', format, '--attack', 'all']);
      expect(a.events.length).toBeGreaterThan(10_000);
      expect(b.events).toBe(a.events);
      expect(b.truth).toBe(a.truth);
      expect(c.events).not.toBe(a.events);
    }
    expect(err).toMatch(/simulated \d+ event\(s\) of 300 user\(s\) over 12 h \(canonical, seed 8\); 12 attack\(s\)/);
  });

  it('writes each attack’s ground truth: kind, time span, addresses, users, sessions', async () => {
    const { truth, events } = await run('truth', ['--attack', 'sms_pumping,session_hijack']);
    const lines = truth
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as GroundTruth);
    expect(lines.map((t) => t.kind)).toEqual(['sms_pumping', 'session_hijack']);
    expect(lines[0]).toMatchObject({ country: 'UZ' });
    expect(lines[1]!.sessions).toHaveLength(1);
    expect(Date.parse(lines[1]!.to)).toBeGreaterThan(Date.parse(lines[1]!.from));
    expect(events).toContain(lines[1]!.sessions[0]);
  });

  it('refuses bad options with the usage', async () => {
    expect(await main(['simulate', '--attack', 'phishing'])).toBe(2);
    expect(err).toContain('`phishing` is not an attack kind');
    expect(await main(['simulate', '--format', 'xml', '--users', '0'])).toBe(2);
    expect(err).toContain('--format must be one of auth0, okta, canonical');
    expect(err).toContain('--users must be a whole number');
    expect(err).toContain('usage: authwatch simulate');
  });
});

describe('the simulated population', () => {
  it('has phones on mobile carriers whose address changes within the carrier’s network during a session', () => {
    const asn = createEnrichers({ geo: false, asn: true })[0]!;
    const { events } = simulate({ seed: 9, users: 300, hours: 24, start: DEFAULT_START, attacks: [] });
    const bySession = new Map<string, Set<string>>();
    for (const e of events) if (e.session) bySession.set(e.session, (bySession.get(e.session) ?? new Set()).add(e.ip));
    const moving = [...bySession.values()].filter((ips) => ips.size > 1);
    expect(moving.length).toBeGreaterThan(10);
    const asnOf = (ip: string) => {
      const event = { id: 'x', time: 0, source: 'generic' as const, type: 'other', outcome: 'unknown' as const, ip };
      asn.enrich(event);
      return (event as { asn?: number }).asn;
    };
    for (const ips of moving) expect(new Set([...ips].map(asnOf)).size).toBe(1);
  });
});
