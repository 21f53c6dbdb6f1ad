import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { Alert } from '../../../src/engine/alert.js';
import { alertLine, RunTally } from '../../../src/simulate/demo.js';
import { captureOutput } from '../../support/capture.js';

const alert: Alert = {
  alert_id: 'a1',
  rule_id: 'r1',
  rule_title: 'Credential stuffing from one IP',
  rule_type: 'value_count',
  level: 'high',
  tags: [],
  mode: 'enforce',
  group: { ip: '185.220.101.9' },
  entities: { user: 'victim3@shop.example', ip: '185.220.101.9' },
  first_seen: Date.UTC(2026, 10, 29, 7, 50),
  last_seen: Date.UTC(2026, 10, 29, 7, 53, 6),
  detected_at: Date.UTC(2026, 10, 29, 7, 53, 6),
  event_count: 10,
  event_ids: ['e1'],
};

describe('what a run without Kafka shows', () => {
  it('writes an alert on one readable line, coloured by level on a terminal', () => {
    expect(alertLine(alert, false)).toBe(
      '2026-11-29 07:53:06  HIGH     Credential stuffing from one IP (10 events)  ip=185.220.101.9 user=victim3@shop.example\n',
    );
    const coloured = alertLine(alert, true);
    expect(coloured.startsWith('\u001b[31m2026-11-29 07:53:06  HIGH ')).toBe(true);
    expect(coloured.endsWith('\u001b[0m\n')).toBe(true);
  });

  it('sums alerts by rule and level, the entities named most, and the attacks caught', () => {
    const truth = [
      { kind: 'credential_stuffing' as const, from: '', to: '', ips: ['185.220.101.9'], users: [], sessions: [] },
      { kind: 'sms_pumping' as const, from: '', to: '', ips: [], users: [], sessions: [], country: 'UZ' },
    ];
    const tally = new RunTally(truth);
    tally.add(alert);
    tally.add({ ...alert, alert_id: 'a2' });
    const text = tally.summary(true);
    expect(text).toContain('2 alert(s)');
    expect(text).toMatch(/ {4}2 {2}high {10}Credential stuffing from one IP/);
    expect(text).toMatch(/ {4}2 {2}ip 185\.220\.101\.9/);
    expect(text).toContain('injected attacks caught: 1 of 2');
    expect(text).toContain('caught  credential_stuffing');
    expect(text).toContain('MISSED  sms_pumping');
    expect(text).toContain('alerts about benign traffic (no injected attack): 0');
    tally.add({ ...alert, alert_id: 'a3', group: {}, entities: { user: 'alex.1@example.com' } });
    expect(tally.summary(false)).toContain('alerts about benign traffic (no injected attack): 1');
    expect(text).toContain('npx authwatch query --ip 185.220.101.9');
  });
});

describe('authwatch run with no input configured', () => {
  const io = captureOutput();

  it('plays the simulated default scenario and says which attacks it caught', async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'authwatch-demo-')), 'authwatch.yaml');
    writeFileSync(config, 'log_level: silent\nclickhouse: {enabled: false}\n');
    expect(await main(['run', '--config', config, '--speed', '0'])).toBe(0);
    const alerts = io.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Alert); // not a terminal: NDJSON
    expect(alerts.length).toBeGreaterThan(12);
    expect(io.err).toContain('injected attacks caught: 12 of 12');
    expect(io.err).not.toContain('MISSED');
    expect(io.err).toContain('alerts about benign traffic (no injected attack): 0');
    expect(io.err).not.toContain('look closer'); // nothing was stored
  });

  it('refuses a bad --speed', async () => {
    expect(await main(['run', '--speed', 'fast'])).toBe(2);
    expect(io.err).toContain('--speed must be a number');
  });
});
