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
import { attacksOf, DEMO, demoPlan, type DemoPlan } from '../../../src/simulate/demo.js';
import { formatRecords, type SimFormat } from '../../../src/simulate/formats.js';
import { ATTACK_KINDS, DEFAULT_START, simulate, type GroundTruth } from '../../../src/simulate/simulate.js';

const enrichers = createEnrichers({ geo: true, asn: true });
const pack = loadRulesWithValues(['detections']);

/** A plan's records, decoded and enriched by Ingest and evaluated by the shipped pack. */
function detect(plan: DemoPlan) {
  const ingest = new Ingest('sim', { enrichers, now: () => Date.UTC(2100, 0, 1) });
  const engine = new Engine(pack);
  const out = emptyOutput();
  const types = new Map<string, number>();
  let line = 0;
  plan.events.forEach((e, i) => {
    for (const record of formatRecords(e, plan.format, plan.seed, i)) {
      const bytes = Buffer.from(JSON.stringify(record));
      const r = ingest.process(bytes, { line: ++line });
      if (!r.ok) out.deadLetters.push(r.deadLetter);
      else {
        types.set(r.event.type, (types.get(r.event.type) ?? 0) + 1);
        evaluate(engine, ingest, r.event, { bytes, position: { line } }, out);
      }
    }
  });
  engine.flush(out);
  return { alerts: out.alerts, truth: plan.truth, deadLetters: out.deadLetters, events: plan.events.length, types };
}

/** The default scenario of `npm start` (a day of DEMO.users users, every attack) for `seed`, as `format`. */
function defaultScenario(seed: number, format: SimFormat, end: number): DemoPlan {
  return demoPlan({ seed, format, attacks: ATTACK_KINDS.map((kind) => ({ kind })) }, end);
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

describe('the shipped pack on the default scenario of `npm start`', () => {
  // Seeds 1 to 6 as `npm start` plays them (Auth0 records, dated in the day before an hour of
  // the wall clock: here several hours and weekdays), and two seeds as the other formats.
  it.each([
    [1, 'auth0', '2026-11-30T08:00:00Z'],
    [2, 'auth0', '2026-12-05T17:00:00Z'],
    [3, 'auth0', '2027-01-01T00:00:00Z'],
    [4, 'auth0', '2026-11-29T23:00:00Z'],
    [5, 'auth0', '2027-03-14T12:00:00Z'],
    [6, 'auth0', '2026-11-30T04:00:00Z'],
    [7, 'okta', '2026-11-30T08:00:00Z'],
    [8, 'canonical', '2026-11-30T08:00:00Z'],
  ] as const)('seed %i as %s, ending %s: every attack caught, no alert naming anything benign', (seed, format, end) => {
    const { alerts, truth, deadLetters, events } = detect(defaultScenario(seed, format, Date.parse(end)));
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

  it('is the scenario `npm start` plays: DEMO’s seed, size and format, every attack kind', () => {
    const end = Date.parse('2026-11-30T08:00:00Z');
    expect(demoPlan(undefined, end)).toEqual(defaultScenario(DEMO.seed, DEMO.format, end));
    expect(DEMO).toMatchObject({ users: 1000, hours: 24, format: 'auth0' });
  });

  it('writes Okta Identity Engine sign-ins with the check of the password beside the session’s start', () => {
    const { types, deadLetters } = detect(defaultScenario(7, 'okta', Date.parse('2026-11-30T08:00:00Z')));
    expect(deadLetters).toEqual([]);
    expect(types.get('auth.verify.success')).toBe(types.get('login.success'));
    expect(types.get('auth.verify.failure')).toBe(types.get('login.failure'));
    expect(types.get('login.failure')).toBeGreaterThan(100);
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
    expect(err).toMatch(
      /simulated \d+ event\(s\) \(\d+ record\(s\)\) of 300 user\(s\) over 12 h \(canonical, seed 8\); 12 attack\(s\)/,
    );
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
