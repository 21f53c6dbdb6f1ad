import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/engine/alert.js';
import { Engine } from '../../../src/engine/engine.js';
import { createEnrichers } from '../../../src/enrich/createEnrichers.js';
import { Ingest } from '../../../src/events/ingest.js';
import { emptyOutput, evaluate } from '../../../src/pipeline/evaluate.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { globalTraffic } from '../../support/globalTraffic.js';

/**
 * The shipped pack over weeks of a tenant whose users live in 25 countries, half on Auth0 and
 * half on Okta (issue 11): Okta's placeholder places and "null" addresses, Identity Engine
 * sign-ins with several verifications each, silent authentication, SMS MFA to every country.
 * No alert may name a benign user or destination, and every attack mixed in is caught.
 */
describe('the shipped pack on realistic global traffic', () => {
  const traffic = globalTraffic();
  const ingest = new Ingest('global', {
    enrichers: createEnrichers({ geo: true, asn: true }),
    now: () => Date.UTC(2027, 0, 1),
  });
  const engine = new Engine(loadRulesWithValues(['detections']));
  const out = emptyOutput();
  traffic.lines.forEach((text, i) => {
    const bytes = Buffer.from(text);
    const result = ingest.process(bytes, { line: i + 1 });
    if (!result.ok) out.deadLetters.push(result.deadLetter);
    else evaluate(engine, ingest, result.event, { bytes, position: { line: i + 1 } }, out);
  });
  engine.flush(out);
  const { attacks } = traffic;

  /** Which attack an alert is about, if any. */
  const attackOf = (a: Alert): string | undefined => {
    const text = JSON.stringify([a.group, a.entities, a.distinct_values ?? []]);
    if (a.group['phone.country'] === attacks.smsPumping.country || /pump\d|203\.0\.113\./.test(text))
      return 'sms_pumping';
    if (a.entities.session === attacks.sessionHijack.session) return 'session_hijack';
    if (text.includes(attacks.stuffing.ip) || /victim\d/.test(text)) return 'stuffing';
    if (a.entities.user === attacks.impossibleTravel.user && a.rule_type === 'impossible_travel')
      return 'impossible_travel';
    return undefined;
  };

  it('decodes every record', () => {
    expect(traffic.lines.length).toBeGreaterThan(10_000);
    expect(out.deadLetters).toEqual([]);
    expect(ingest.counters.droppedFields['ip:not_an_address']).toBeGreaterThan(10);
    expect(ingest.counters.droppedFields['geo.lat/lon:placeholder']).toBeGreaterThan(100);
  });

  it('names no benign user, address, session or destination', () => {
    const unexplained = out.alerts
      .filter((a) => attackOf(a) === undefined)
      .map((a) => `${a.rule_title}: ${JSON.stringify(a.group)} ${JSON.stringify(a.entities)}`);
    expect(unexplained).toEqual([]);
    const named = out.alerts.filter((a) => attackOf(a) === undefined && traffic.benignUsers.has(a.entities.user ?? ''));
    expect(named).toEqual([]);
  });

  it('catches every attack mixed in', () => {
    const caught = (kind: string, rule: string) =>
      out.alerts.some((a) => attackOf(a) === kind && a.rule_title.toLowerCase().includes(rule));
    expect(caught('sms_pumping', 'destination the application')).toBe(true);
    expect(caught('session_hijack', 'different network')).toBe(true);
    expect(caught('stuffing', 'credential stuffing from one ip')).toBe(true);
    expect(caught('impossible_travel', 'travel')).toBe(true);
  });
});
