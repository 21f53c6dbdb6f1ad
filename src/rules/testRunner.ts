import { Engine } from '../engine/engine.js';
import type { AuthEvent } from '../events/authEvent.js';
import type { DecodeContext } from '../events/decoder.js';
import { DECODERS } from '../events/recordDecoder.js';
import type { Span } from './diagnostics.js';
import { parseTimespan } from '../time/duration.js';
import { parseIsoTime } from '../time/iso.js';
import { loadRuleText, type RuleSet } from './loader.js';
import type { Rule, RuleTarget } from './model.js';

export interface TestResult {
  rule: string;
  ruleTitle: string;
  name: string;
  span: Span;
  passed: boolean;
  expected: 'fire' | 'not_fire' | number;
  /** Alerts of the rule under test. */
  actual: number;
  /** Why the case could not run, when it could not. */
  error?: string;
}

/** When a test's first event has no time of its own. */
export const TEST_BASE_TIME = Date.UTC(2026, 0, 1);
const STEP_MS = 1000;
const MAX_REPEAT = 10_000;

/**
 * Runs every `tests:` case of every rule through a fresh engine holding the whole rule set, so
 * a case proves the routing (rule index), the correlation state and chaining, suppression
 * included, and counts the alerts of the rule under test (which alerts for the test even when
 * a correlation refers to it).
 */
export function runInlineTests(ruleSet: RuleSet): TestResult[] {
  const results: TestResult[] = [];
  const rules: Rule[] = [...ruleSet.detections, ...ruleSet.correlations].sort(
    (a, b) => a.file.localeCompare(b.file) || a.document - b.document,
  );
  for (const rule of rules) {
    rule.extensions.tests.forEach((t, caseIndex) => {
      const base = { rule: rule.uid, ruleTitle: rule.title, name: t.name, span: t.span, expected: t.expect };
      let events: AuthEvent[];
      try {
        events = testEvents(targetOf(rule, ruleSet), t.events, `${caseIndex + 1}`);
      } catch (err) {
        results.push({ ...base, passed: false, actual: 0, error: (err as Error).message });
        return;
      }
      // A case that sets placeholders runs against its file loaded with them, as a values file would.
      const caseSet = t.placeholders ? withPlaceholders(ruleSet, rule.file, t.placeholders) : ruleSet;
      if (caseSet === undefined) {
        results.push({
          ...base,
          passed: false,
          actual: 0,
          error: 'The rule does not load with the case’s placeholders.',
        });
        return;
      }
      const engine = new Engine(caseSet, { alwaysAlert: new Set([rule.uid]) });
      const ruleId = rule.id ?? rule.uid;
      let actual = 0;
      const out = { alerts: [], actions: [], dropped: [] };
      for (const event of events) engine.process(event, out);
      for (const alert of engine.flush(out).alerts) if (alert.rule_id === ruleId) actual++;
      const passed = t.expect === 'fire' ? actual > 0 : t.expect === 'not_fire' ? actual === 0 : actual === t.expect;
      results.push({ ...base, passed, actual });
    });
  }
  return results;
}

/** The rules of one file, loaded again with placeholder values; undefined when they do not load. */
function withPlaceholders(ruleSet: RuleSet, file: string, placeholders: Record<string, string[]>): RuleSet | undefined {
  const text = ruleSet.sources.get(file);
  if (text === undefined) return undefined;
  const set = loadRuleText(file, text, { placeholders, inlineTests: false });
  return set.diagnostics.errorCount > 0 ? undefined : set;
}

/** What a case's events are written as: a correlation's, those of the rules it refers to. */
function targetOf(rule: Rule, ruleSet: RuleSet, seen = new Set<string>()): RuleTarget {
  if (rule.kind === 'detection') return rule.target;
  seen.add(rule.uid);
  for (const uid of rule.rules) {
    const ref = ruleSet.byUid.get(uid);
    if (ref && !seen.has(uid)) return targetOf(ref, ruleSet, seen);
  }
  return 'canonical';
}

/**
 * Turns a case's event records into events. Canonical records may be partial: a missing `id`
 * is generated, a missing `time` is one second after the previous event (the first at
 * TEST_BASE_TIME), `_after: 10m` sets that gap instead, and `_repeat: N` repeats a record N
 * times with `{n}` in its strings replaced by 1..N. Records of a source (rules on
 * `product: auth0` or `okta`) go through that source's decoder, so they read as in production.
 */
export function testEvents(target: RuleTarget, records: Record<string, unknown>[], prefix: string): AuthEvent[] {
  const out: AuthEvent[] = [];
  let time = TEST_BASE_TIME - STEP_MS;
  records.forEach((record, i) => {
    const { _repeat, _after, ...rest } = record;
    const repeat = _repeat === undefined ? 1 : Number(_repeat);
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT)
      throw new Error(`Event ${i + 1}: \`_repeat\` must be a whole number from 1 to ${MAX_REPEAT}.`);
    let gap = STEP_MS;
    if (_after !== undefined) {
      const ms = typeof _after === 'string' ? parseTimespan(_after) : undefined;
      if (ms === undefined) throw new Error(`Event ${i + 1}: \`_after\` must be a timespan such as 10m.`);
      gap = ms;
    }
    for (let n = 1; n <= repeat; n++) {
      const copy = (repeat > 1 ? substitute(rest, String(n)) : rest) as Record<string, unknown>;
      time += n === 1 ? gap : STEP_MS;
      const id = `test-${prefix}-${i + 1}${repeat > 1 ? `-${n}` : ''}`;
      const event =
        target === 'canonical' ? canonicalTestEvent(copy, id, time) : sourceTestEvent(target, copy, id, time);
      time = event.time;
      out.push(event);
    }
  });
  return out;
}

function canonicalTestEvent(record: Record<string, unknown>, id: string, time: number): AuthEvent {
  const given =
    record.time === undefined
      ? undefined
      : typeof record.time === 'number'
        ? record.time
        : (parseIsoTime(String(record.time).trim()) ?? Number.NaN);
  if (given !== undefined && !Number.isFinite(given))
    throw new Error(`\`time\` ${JSON.stringify(record.time)} is not a time.`);
  const type = typeof record.type === 'string' ? record.type : 'other';
  return {
    id,
    source: 'generic',
    outcome: type.endsWith('.success') ? 'success' : type.endsWith('.failure') ? 'failure' : 'unknown',
    ...record,
    type,
    time: given ?? time,
  } as AuthEvent;
}

function sourceTestEvent(
  target: 'auth0' | 'okta',
  record: Record<string, unknown>,
  id: string,
  time: number,
): AuthEvent {
  const iso = new Date(time).toISOString();
  const withTime =
    target === 'okta'
      ? { published: iso, ...record }
      : isObjectRecord(record.data)
        ? { ...record, data: { date: iso, ...record.data } }
        : { date: iso, ...record };
  const ctx: DecodeContext = { now: Number.MAX_SAFE_INTEGER, maxFutureMs: 0, fallbackId: id };
  const decoded = DECODERS[target].decode(withTime, ctx);
  if (decoded.ok) return decoded.event;
  // A record too partial for the decoder is still what the rule reads.
  const raw = target === 'auth0' && !isObjectRecord(record.data) ? { data: record } : record;
  return { id, time, source: target, type: 'other', outcome: 'unknown', raw };
}

function isObjectRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function substitute(v: unknown, n: string): unknown {
  if (typeof v === 'string') return v.replaceAll('{n}', n);
  if (Array.isArray(v)) return v.map((x) => substitute(x, n));
  if (isObjectRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, n)]));
  return v;
}
