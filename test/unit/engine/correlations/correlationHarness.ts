import type { AuthEvent } from '../../../../src/events/authEvent.js';
import type {
  Correlator,
  CorrelatorFactory,
  CorrelatorOptions,
  Firing,
} from '../../../../src/engine/correlations/correlator.js';
import { loadRuleText } from '../../../../src/rules/loader.js';
import type { CorrelationRule, Doc } from '../../../../src/rules/model.js';

export const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A detection rule named `name` matching events of `type`, as one YAML document. */
export function detection(name: string, type: string): string {
  return `title: ${name}\nname: ${name}\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: ${type}}\n  condition: sel\n`;
}

/**
 * Loads detection documents and one correlation (`body` is what goes under `correlation:`),
 * and returns the correlation with a lookup from rule names to the uids hits carry.
 */
export function loadCorrelation(
  detections: string[],
  body: string,
): { rule: CorrelationRule; uid: (name: string) => string } {
  const indented = body
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
  const text = `${detections.join('---\n')}---\ntitle: the correlation\nid: 6f1c2b8e-1d2a-4c3b-9e8f-0a1b2c3d4e5f\ncorrelation:\n${indented}\n`;
  const set = loadRuleText('t.yml', text);
  const errors = set.diagnostics.items.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((d) => `${d.code} ${d.message}`).join('; '));
  const rule = set.correlations[0]!;
  return {
    rule,
    uid: (name) => {
      const d = set.detections.find((r) => r.name === name);
      if (!d) throw new Error(`no rule named ${name}`);
      return d.uid;
    },
  };
}

let nextId = 0;

/** A canonical event at `time`, with a fresh id unless one is given. */
export function event(time: number, fields: Partial<AuthEvent> = {}): AuthEvent {
  return { id: `e${++nextId}`, time, source: 'generic', type: 'login.success', outcome: 'success', ...fields };
}

/**
 * Drives a correlator the way the engine does: the watermark is the newest event time seen
 * (this hit included) minus the allowed lateness.
 */
export class Feed {
  maxTime = Number.NEGATIVE_INFINITY;
  readonly correlator: Correlator;

  constructor(
    factory: CorrelatorFactory,
    readonly rule: CorrelationRule,
    readonly options: CorrelatorOptions = { maxKeys: 1000, allowedLatenessMs: MINUTE },
  ) {
    this.correlator = factory(rule, options);
  }

  get watermark(): number {
    return this.maxTime - this.options.allowedLatenessMs;
  }

  /** Firings the correlator decided as event time passed (`Correlator.due`), oldest first. */
  readonly decided: Firing[] = [];

  /**
   * Observes a hit, after what a timed correlator decided before its time (as the engine does);
   * returns the hit's firing, else the first decided just before it.
   */
  hit(ruleUid: string, e: AuthEvent): Firing | undefined {
    this.maxTime = Math.max(this.maxTime, e.time);
    const due = (this.correlator.due?.(e.time) ?? []).map((d) => d.firing);
    this.decided.push(...due);
    const f = this.correlator.observe(
      { ruleUid, time: e.time, eventId: e.id, doc: e as unknown as Doc, event: e },
      this.watermark,
    );
    return f ?? due[0];
  }

  /** Every firing of a sequence of hits, in order. */
  all(hits: [string, AuthEvent][]): Firing[] {
    const out: Firing[] = [];
    for (const [uid, e] of hits) {
      const f = this.hit(uid, e);
      if (f) out.push(f);
    }
    return out;
  }

  expire(): void {
    this.correlator.expire(this.watermark);
  }

  /** A second feed continuing from this one's snapshot, passed through JSON as a restart would. */
  restarted(factory: CorrelatorFactory): Feed {
    const next = new Feed(factory, this.rule, this.options);
    next.maxTime = this.maxTime;
    next.correlator.restore(JSON.parse(JSON.stringify(this.correlator.snapshot())));
    return next;
  }
}
