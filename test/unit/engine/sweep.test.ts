import { describe, expect, it } from 'vitest';
import type { Action, Alert } from '../../../src/engine/alert.js';
import { Engine, type EngineOptions } from '../../../src/engine/engine.js';
import { createEnrichers } from '../../../src/enrich/createEnrichers.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { Ingest } from '../../../src/events/ingest.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { demoPlan } from '../../../src/simulate/demo.js';
import { formatRecords } from '../../../src/simulate/formats.js';
import { ATTACK_KINDS } from '../../../src/simulate/simulate.js';
import { authTraffic } from '../../support/traffic.js';

const pack = loadRulesWithValues(['detections']);
const ingest = new Ingest('sweep', {
  enrichers: createEnrichers({ geo: true, asn: true }),
  now: () => Date.UTC(2100, 0, 1),
});
const decode = (lines: string[]): AuthEvent[] =>
  lines.flatMap((line, i) => {
    const r = ingest.process(Buffer.from(line), { line: i + 1 });
    return r.ok ? [r.event] : [];
  });

function run(events: AuthEvent[], options: EngineOptions) {
  const engine = new Engine(pack, { allowedLatenessMs: 5_000, ...options });
  const out = { alerts: [] as Alert[], actions: [] as Action[], dropped: [] };
  for (const e of events) engine.process(e, out);
  engine.flush(out);
  const keys = Object.values(engine.stats().rules).reduce((n, r) => n + r.keys, 0);
  return { alerts: out.alerts, actions: out.actions, keys };
}

const streams: [string, () => AuthEvent[]][] = [
  [
    'mixed traffic with attacks',
    () => decode(authTraffic({ seed: 31, events: 40_000, users: 3_000, attacks: 6 }).lines),
  ],
  [
    'the default scenario of npm start',
    () => {
      const plan = demoPlan({ seed: 2, attacks: ATTACK_KINDS.map((kind) => ({ kind })) }, Date.UTC(2026, 10, 30, 8));
      return decode(
        plan.events.flatMap((e, i) => formatRecords(e, plan.format, plan.seed, i).map((r) => JSON.stringify(r))),
      );
    },
  ],
];

describe('sweeping expired state', () => {
  it.each(streams)(
    'changes no result, only memory: %s',
    (_name, make) => {
      const events = make();
      const often = run(events, { sweepEveryMs: 60_000, sweepGroupsPerEvent: Number.POSITIVE_INFINITY });
      const usual = run(events, {});
      const never = run(events, { sweepEveryMs: 10 * 365 * 86_400_000 });
      expect(often.alerts.length).toBeGreaterThan(5);
      expect(usual.alerts).toEqual(often.alerts);
      expect(never.alerts).toEqual(often.alerts);
      expect(usual.actions).toEqual(often.actions);
      expect(never.actions).toEqual(often.actions);
      // Sweeps did free state, and the usual, cheaper ones keep it near what sweeping every minute keeps.
      expect(often.keys).toBeLessThan(never.keys);
      expect(usual.keys).toBeLessThanOrEqual(never.keys);
      expect(usual.keys).toBeLessThan(often.keys * 1.5);
      // Three engines over the whole pack: seconds on a shared machine.
    },
    30_000,
  );
});
