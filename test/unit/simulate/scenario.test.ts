import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { Alert } from '../../../src/engine/alert.js';
import { Pacer } from '../../../src/simulate/pace.js';
import { ATTACK_KINDS, type GroundTruth } from '../../../src/simulate/simulate.js';
import { captureOutput } from '../../support/capture.js';

const dir = mkdtempSync(join(tmpdir(), 'authwatch-scenario-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const ndjson = <T>(text: string): T[] =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);

const io = captureOutput();

const SCENARIO = `# A small tenant on Okta: a stuffing run too small to alert on, then a real one
seed: 5
users: 200
hours: 6
start: 2026-11-02T00:00:00Z
format: okta
attacks:
  - kind: credential_stuffing
    at: 90m
    size: 4
    every: 10s
  - kind: credential_stuffing
    at: 2026-11-02T04:00:00Z
  - kind: sms_pumping
    country: ID
    size: 25
  - kind: brute_force
`;

describe('authwatch simulate --scenario', () => {
  it('places each attack when the file says, with its size, pace and destination', async () => {
    const scenario = file('small-tenant.yaml', SCENARIO);
    const events = join(dir, 'small.ndjson');
    expect(await main(['simulate', '--scenario', scenario, '--out', events])).toBe(0);
    const truth = ndjson<GroundTruth>(readFileSync(`${events}.truth.ndjson`, 'utf8'));
    expect(truth.map((t) => t.kind)).toEqual([
      'credential_stuffing',
      'credential_stuffing',
      'sms_pumping',
      'brute_force',
    ]);
    expect(truth[0]).toMatchObject({ from: '2026-11-02T01:30:00.000Z', to: '2026-11-02T01:30:30.000Z' });
    expect(truth[0]!.users).toHaveLength(4);
    expect(truth[1]).toMatchObject({ from: '2026-11-02T04:00:00.000Z' });
    expect(truth[1]!.users).toHaveLength(40); // the kind's default size
    expect(truth[2]).toMatchObject({ country: 'ID' });
    expect(truth[2]!.users).toHaveLength(25);
    const records = ndjson<{ eventType: string; debugContext: { debugData: { phoneNumber?: string } } }>(
      readFileSync(events, 'utf8'),
    );
    expect(records[0]!.eventType).toBeDefined(); // the file's format: Okta
    const pumped = records.filter((r) => r.debugContext.debugData.phoneNumber?.startsWith('+6290'));
    expect(pumped).toHaveLength(25);
    expect(io.err).toContain('of 200 user(s) over 6 h (okta, seed 5); 4 attack(s)');
  });

  it('takes options given on the command line over the file’s, and --attack adds to its attacks', async () => {
    const scenario = file('override.yaml', SCENARIO);
    const events = join(dir, 'override.ndjson');
    expect(
      await main([
        'simulate',
        '--scenario',
        scenario,
        '--seed',
        '9',
        '--format',
        'canonical',
        '--attack',
        'mfa_fatigue',
        '--out',
        events,
      ]),
    ).toBe(0);
    expect(io.err).toContain('(canonical, seed 9); 5 attack(s)');
    expect(ndjson<GroundTruth>(readFileSync(`${events}.truth.ndjson`, 'utf8')).at(-1)!.kind).toBe('mfa_fatigue');
  });

  it('makes an attack smaller than a rule’s threshold go unseen, and the run say so', async () => {
    const scenario = file('threshold.yaml', SCENARIO);
    const config = file('quiet.yaml', 'log_level: silent\nclickhouse: {enabled: false}\n');
    expect(await main(['run', '--config', config, '--scenario', scenario, '--speed', '0'])).toBe(0);
    const alerts = ndjson<Alert>(io.out);
    expect(alerts.some((a) => a.rule_title === 'Credential stuffing from one IP')).toBe(true);
    expect(io.err).toContain('injected attacks caught: 3 of 4');
    expect(io.err).toMatch(/MISSED {2}credential_stuffing\n {2}caught {2}credential_stuffing/);
    expect(io.err).toContain('alerts about benign traffic (no injected attack): 0');
  });

  it('reports every problem of a scenario file with its line and column, and writes nothing', async () => {
    const scenario = file(
      'broken.yaml',
      [
        'seed: -1',
        'start: yesterday',
        'attacks:',
        '  - kind: phishing',
        '  - kind: impossible_travel',
        '    size: 3',
        '  - kind: brute_force',
        '    country: UZ',
        '    at: soon',
        '  - kind: sms_pumping',
        '    attacker: 1.2.3.4',
        '',
      ].join('\n'),
    );
    expect(await main(['simulate', '--scenario', scenario])).toBe(2);
    expect(io.out).toBe('');
    expect(io.err).toContain(`Invalid scenario in ${scenario}:`);
    expect(io.err).toContain(`${scenario}:1:7: seed: must be >= 0`);
    expect(io.err).toContain(`${scenario}:4:11: attacks.0.kind: must be one of "credential_stuffing"`);
    expect(io.err).toContain(`${scenario}:10:5: attacks.3: unknown key \`attacker\``);
    // The rest once the form is right.
    const second = file(
      'broken2.yaml',
      [
        'start: yesterday',
        'attacks:',
        '  - kind: impossible_travel',
        '    size: 3',
        '  - kind: brute_force',
        '    country: UZ',
        '    at: soon',
        '',
      ].join('\n'),
    );
    io.clear();
    expect(await main(['simulate', '--scenario', second])).toBe(2);
    expect(io.err).toContain(`${second}:1:8: start: must be an ISO 8601 time`);
    expect(io.err).toContain(`${second}:4:11: attacks.0.size: impossible_travel takes no size`);
    expect(io.err).toContain(`${second}:6:14: attacks.1.country: only sms_pumping takes a country`);
    expect(io.err).toContain(`${second}:7:9: attacks.1.at: \`soon\` is neither a time after the start`);
  });

  it('refuses an attack that would begin outside the stream, and a file that is not YAML', async () => {
    const late = file('late.yaml', 'hours: 2\nattacks:\n  - kind: brute_force\n    at: 3h\n');
    expect(await main(['simulate', '--scenario', late])).toBe(2);
    expect(io.err).toContain('Attack 1 (brute_force) begins at 2026-11-02T03:00:00.000Z, outside the simulated 2 h');
    const bad = file('bad.yaml', 'attacks: [kind: brute_force\n');
    expect(await main(['simulate', '--scenario', bad])).toBe(2);
    expect(io.err).toMatch(new RegExp(`The scenario file is not valid YAML:\\n {2}- ${bad}:\\d+:\\d+`));
    expect(await main(['run', '--scenario', join(dir, 'missing.yaml')])).toBe(2);
    expect(io.err).toContain('Cannot read scenario file');
  });

  it('names the same attack kinds in its schema as the simulator injects', () => {
    const schema = JSON.parse(readFileSync('schemas/scenario.schema.json', 'utf8')) as {
      properties: { attacks: { items: { properties: { kind: { enum: string[] } } } } };
    };
    expect(schema.properties.attacks.items.properties.kind.enum).toEqual([...ATTACK_KINDS]);
  });
});

describe('pacing', () => {
  it('plays event time at --speed times real time', async () => {
    const pacer = new Pacer({ speed: 1000 });
    const began = Date.now();
    await pacer.wait(0, 0);
    await pacer.wait(1, 300_000); // five minutes of event time: 300 ms at 1000×
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);
  });

  it('sends --rate records per second', async () => {
    const pacer = new Pacer({ rate: 100 });
    const began = Date.now();
    for (let i = 0; i <= 30; i += 10) await pacer.wait(i, 0); // the 30th record is due at 300 ms
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);
  });

  it('stops waiting when asked to stop', async () => {
    const stop = new AbortController();
    const pacer = new Pacer({ speed: 1 }, stop.signal);
    await pacer.wait(0, 0);
    setTimeout(() => stop.abort(), 50);
    const began = Date.now();
    await pacer.wait(1, 3_600_000); // an hour away
    expect(Date.now() - began).toBeLessThan(5_000);
  });
});
