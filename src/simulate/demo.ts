import type { Alert } from '../engine/alert.js';
import type { NdjsonLine } from '../sources/ndjsonSource.js';
import { formatRecords, type SimFormat } from './formats.js';
import { Pacer } from './pace.js';
import { placeAttacks, type Scenario } from './scenario.js';
import { ATTACK_KINDS, simulate, type GroundTruth, type SimEvent } from './simulate.js';

/**
 * What `authwatch run` plays when no input and no Kafka are configured: the default scenario
 * (a day of a thousand users, every attack kind mixed in) as Auth0 log-stream records, on an
 * accelerated clock, so a first run shows detections within a minute.
 */
export const DEMO = { seed: 1, users: 1000, hours: 24, format: 'auth0' as const };

/** What a simulated run plays: the events, their ground truth, and how they are written. */
export interface DemoPlan {
  events: SimEvent[];
  truth: GroundTruth[];
  format: SimFormat;
  seed: number;
}

/**
 * The default scenario, or a scenario file's settings where it gives them, dated in the hours
 * before `end` (by default the last whole hour) unless the file gives a start, so `authwatch
 * query` finds the alerts among the last 24 hours. Throws a ConfigError when an attack of the
 * file would begin outside the stream.
 */
export function demoPlan(scenario?: Scenario, end = Math.floor(Date.now() / 3_600_000) * 3_600_000): DemoPlan {
  const hours = scenario?.hours ?? DEMO.hours;
  const start = scenario?.start ?? end - hours * 3_600_000;
  const seed = scenario?.seed ?? DEMO.seed;
  const attacks = scenario ? placeAttacks(scenario.attacks, start, hours) : ATTACK_KINDS;
  const { events, truth } = simulate({ seed, users: scenario?.users ?? DEMO.users, hours, start, attacks });
  return { events, truth, format: scenario?.format ?? DEMO.format, seed };
}

/** The plan's records, paced so that `speed` seconds of event time pass per second (0: no pacing). */
export async function* demoLines(plan: DemoPlan, speed: number, stop?: AbortSignal): AsyncGenerator<NdjsonLine> {
  const pacer = new Pacer({ speed }, stop);
  let line = 0;
  for (let i = 0; i < plan.events.length; i++) {
    if (stop?.aborted) return;
    const e = plan.events[i]!;
    if (i % 50 === 0) await pacer.wait(i, e.t);
    for (const record of formatRecords(e, plan.format, plan.seed, i)) {
      const bytes = Buffer.from(JSON.stringify(record));
      yield { line: ++line, bytes, size: bytes.length };
    }
  }
}

const COLOURS: Record<Alert['level'], string> = {
  critical: '\u001b[1;31m',
  high: '\u001b[31m',
  medium: '\u001b[33m',
  low: '\u001b[36m',
  informational: '\u001b[2m',
};

/**
 * An alert on one line, for a terminal: event time, level, title, the entities it names, and
 * its context in brief.
 */
export function alertLine(a: Alert, colour: boolean): string {
  const time = new Date(a.last_seen).toISOString().slice(0, 19).replace('T', ' ');
  const level = a.level.toUpperCase().padEnd(8);
  const names = Object.entries({ ...a.group, ...a.entities })
    .filter(([k], i, all) => all.findIndex(([x]) => x === k) === i)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  const count = a.event_count > 1 ? ` (${a.event_count} events)` : '';
  const text = `${time}  ${level} ${a.rule_title}${count}  ${names}`;
  return colour ? `${COLOURS[a.level]}${text}\u001b[0m\n` : `${text}\n`;
}

/** The attacks of the ground truth an alert names (their addresses, users, sessions or destination). */
export function attacksOf(a: Alert, truth: readonly GroundTruth[]): GroundTruth[] {
  const named = [...Object.values(a.group), ...Object.values(a.entities).map(String), ...(a.distinct_values ?? [])];
  return truth.filter((t) =>
    named.some((v) => t.ips.includes(v) || t.users.includes(v) || t.sessions.includes(v) || v === t.country),
  );
}

/**
 * What a run found, counted as alerts go by (a long run keeps counts, not alerts): alerts by
 * rule and level, the entities named most and, when the input was simulated, which injected
 * attacks were caught. `summary` says it, then how to look closer.
 */
export class RunTally {
  private alerts = 0;
  private readonly byRule = new Map<string, { level: string; n: number }>();
  private readonly entities = new Map<string, number>();
  private readonly caught = new Set<GroundTruth>();
  /** Alerts of a simulated run that name no injected attack: about benign traffic. */
  private benign = 0;

  constructor(private readonly truth?: readonly GroundTruth[]) {}

  add(a: Alert): void {
    this.alerts++;
    const r = this.byRule.get(a.rule_title) ?? { level: a.level, n: 0 };
    r.n++;
    this.byRule.set(a.rule_title, r);
    for (const k of ['user', 'ip', 'session'] as const) {
      const v = a.entities[k];
      if (v !== undefined) this.entities.set(`${k} ${v}`, (this.entities.get(`${k} ${v}`) ?? 0) + 1);
    }
    if (this.truth) {
      const about = attacksOf(a, this.truth);
      for (const t of about) this.caught.add(t);
      if (about.length === 0) this.benign++;
    }
  }

  get count(): number {
    return this.alerts;
  }

  summary(stored: boolean): string {
    const lines: string[] = ['', `${this.alerts} alert(s)`];
    for (const [title, { level, n }] of [...this.byRule].sort((x, y) => y[1].n - x[1].n || (x[0] < y[0] ? -1 : 1)))
      lines.push(`  ${String(n).padStart(5)}  ${level.padEnd(13)} ${title}`);
    const top = [...this.entities].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, 5);
    if (top.length > 0) lines.push('top entities:', ...top.map(([e, n]) => `  ${String(n).padStart(5)}  ${e}`));
    if (this.truth) {
      lines.push(`injected attacks caught: ${this.caught.size} of ${this.truth.length}`);
      for (const t of this.truth) lines.push(`  ${this.caught.has(t) ? 'caught' : 'MISSED'}  ${t.kind}`);
      lines.push(`alerts about benign traffic (no injected attack): ${this.benign}`);
    }
    if (stored) {
      const ip =
        this.truth?.find((t) => t.ips.length > 0)?.ips[0] ?? top.find(([e]) => e.startsWith('ip '))?.[0].slice(3);
      lines.push(
        'look closer:',
        '  npx authwatch query --summary',
        '  npx authwatch query "SELECT rule_title, count() AS n FROM alerts GROUP BY rule_title ORDER BY n DESC"',
        ...(ip ? [`  npx authwatch query --ip ${ip}`] : []),
      );
    }
    return `${lines.join('\n')}\n`;
  }
}
