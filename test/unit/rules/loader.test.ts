import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { RuleIndex } from '../../../src/engine/ruleIndex.js';
import { loadRuleText, loadRules } from '../../../src/rules/loader.js';

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'authwatch-rules-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const detection = (name: string, type: string) =>
  `title: ${name}\nname: ${name}\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: ${type}}\n  condition: sel\n`;
const correlation = (title: string, ref: string, extra = '') =>
  `title: ${title}\ncorrelation:\n  type: event_count\n  rules: [${ref}]\n  group-by: [ip]\n  timespan: 1h\n  condition: {gte: 2}\n${extra}`;

describe('rule references', () => {
  it('resolves a name in the referring file first, so files may reuse a name', () => {
    const dir = dirWith({
      'a.yml': `${detection('selected_events', 'login.failure')}---\n${correlation('A', 'selected_events')}`,
      'b.yml': `${detection('selected_events', 'signup.success')}---\n${correlation('B', 'selected_events')}`,
    });
    const set = loadRules([dir]);
    expect(set.diagnostics.items).toEqual([]);
    for (const c of set.correlations) expect(set.byUid.get(c.rules[0]!)!.file).toBe(c.file);
  });

  it('resolves a name unique across files, and ids anywhere', () => {
    const dir = dirWith({
      'a.yml': `${detection('failures', 'login.failure')}id: 11111111-1111-4111-8111-111111111111\n`,
      'b.yml': `${correlation('by name', 'failures')}---\n${correlation('by id', '11111111-1111-4111-8111-111111111111')}`,
    });
    const set = loadRules([dir]);
    expect(set.diagnostics.errorCount).toBe(0);
    expect(set.correlations.map((c) => c.rules)).toEqual([
      ['11111111-1111-4111-8111-111111111111'],
      ['11111111-1111-4111-8111-111111111111'],
    ]);
  });

  it('reports a name defined in several other files as ambiguous (AW1410)', () => {
    const dir = dirWith({
      'a.yml': detection('dup', 'login.failure'),
      'b.yml': detection('dup', 'login.success'),
      'c.yml': correlation('C', 'dup'),
    });
    const codes = loadRules([dir]).diagnostics.items.map((d) => d.code);
    expect(codes).toContain('AW1410');
  });

  describe('a correlation with a reference that did not load', () => {
    const ordered = (refs: string) =>
      `${detection('failed', 'login.failure')}---\n${detection('success', 'login.success')}---\n` +
      `title: Failure then success\nname: fts\ncorrelation:\n  type: temporal_ordered\n  rules: [${refs}]\n  group-by: [user.name]\n  timespan: 10m\n`;
    const failures = (n: number): AuthEvent[] =>
      Array.from(
        { length: n },
        (_, i) =>
          ({
            id: `e${i}`,
            source: 'generic',
            type: 'login.failure',
            outcome: 'failure',
            time: Date.UTC(2026, 5, 1) + i * 1000,
            user: { name: 'alice' },
          }) as AuthEvent,
      );
    const alertsOn = (text: string, events: AuthEvent[]) => {
      const engine = new Engine(loadRuleText('x.yml', text));
      const out = { alerts: [], actions: [], dropped: [] };
      for (const e of events) engine.process(e, out);
      return engine.flush(out).alerts;
    };

    it('is disabled with a warning that says so, and its building blocks stay quiet (a typo never widens it)', () => {
      const set = loadRuleText('x.yml', ordered('failed, sucess'));
      const warning = set.diagnostics.items.find((d) => d.code === 'AW1405')!;
      expect(warning.severity).toBe('warning');
      expect(warning.message).toContain('`sucess`');
      expect(warning.message).toContain('`Failure then success` is disabled');
      expect(warning.hint).toBe('did you mean `success`?');
      expect(set.correlations).toEqual([]);
      expect(alertsOn(ordered('failed, sucess'), failures(5))).toEqual([]);
    });

    it('runs once the reference is spelt right', () => {
      const set = loadRuleText('x.yml', ordered('failed, success'));
      expect(set.diagnostics.items).toEqual([]);
      const success = {
        ...failures(1)[0]!,
        id: 'ok',
        type: 'login.success',
        outcome: 'success',
        time: Date.UTC(2026, 5, 1) + 9000,
      } as AuthEvent;
      expect(alertsOn(ordered('failed, success'), [...failures(3), success]).map((a) => a.rule_title)).toEqual([
        'Failure then success',
      ]);
    });

    it('disables the correlations that build on it in turn (AW1411)', () => {
      const text = `${ordered('failed, sucess')}---\ntitle: Repeated\ncorrelation:\n  type: event_count\n  rules: [fts]\n  group-by: [user.name]\n  timespan: 1h\n  condition: {gte: 1}\n`;
      const set = loadRuleText('x.yml', text);
      expect(set.diagnostics.items.map((d) => [d.code, d.severity])).toEqual([
        ['AW1405', 'warning'],
        ['AW1411', 'warning'],
      ]);
      expect(set.diagnostics.items[1]!.message).toContain(
        '`Repeated` is disabled: it builds on `Failure then success`',
      );
      expect(set.correlations).toEqual([]);
      expect(alertsOn(text, failures(5))).toEqual([]);
    });

    it('is disabled when a reference is ambiguous (AW1410 is an error, the correlation does not run)', () => {
      const dir = dirWith({
        'a.yml': detection('dup', 'login.failure'),
        'b.yml': detection('dup', 'login.success'),
        'c.yml': `${detection('mine', 'login.failure')}---\n${correlation('C', 'mine, dup')}`,
      });
      const set = loadRules([dir]);
      expect(set.diagnostics.items.map((d) => d.code)).toContain('AW1410');
      expect(set.correlations).toEqual([]);
    });
  });

  it('keeps rules referenced by a correlation from alerting on their own unless generate is true', () => {
    const quiet = loadRuleText('x.yml', `${detection('f', 'login.failure')}---\n${correlation('C', 'f')}`);
    const f = quiet.detections[0]!;
    expect(quiet.alerting.has(f.uid)).toBe(false);
    expect(quiet.alerting.has(quiet.correlations[0]!.uid)).toBe(true);
    const loud = loadRuleText(
      'x.yml',
      `${detection('f', 'login.failure')}---\n${correlation('C', 'f', 'generate: true\n')}`,
    );
    expect(loud.alerting.has(loud.detections[0]!.uid)).toBe(true);
  });

  it('reads group-by aliases per referenced rule', () => {
    const set = loadRuleText(
      'x.yml',
      `${detection('a', 'login.failure')}---\n${detection('b', 'login.success')}---\n` +
        'title: T\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  group-by: [addr]\n  timespan: 5m\n  aliases:\n    addr:\n      a: ip\n      b: client.ip\n',
    );
    expect(set.diagnostics.errorCount).toBe(0);
    const [a, b] = set.detections;
    expect(set.correlations[0]!.aliases).toEqual({ addr: { [a!.uid]: 'ip', [b!.uid]: 'client.ip' } });
  });
});

describe('rules without an id', () => {
  const pair = (type: string) =>
    `${detection('selected_events', type)}---\n${correlation('Repeated', 'selected_events')}`;
  const alertIds = (dir: string) => {
    const engine = new Engine(loadRules([dir]));
    const events = [0, 1].map(
      (i) =>
        ({
          id: `e${i}`,
          source: 'generic',
          type: 'login.failure',
          outcome: 'failure',
          time: Date.UTC(2026, 5, 1) + i * 1000,
          ip: '203.0.113.9',
        }) as AuthEvent,
    );
    const out = { alerts: [], actions: [], dropped: [] };
    for (const e of events) engine.process(e, out);
    return engine.flush(out).alerts.map((a) => [a.rule_id, a.alert_id]);
  };

  it('are known by an id derived from their content, so moving the file keeps the alert ids', () => {
    const here = dirWith({ 'a.yml': pair('login.failure') });
    const there = dirWith({
      'nested-name.yaml': `# moved, reformatted\n\n${pair('login.failure').replace('{type: login.failure}', '\n    type: login.failure')}`,
    });
    const ids = alertIds(here);
    expect(ids).toHaveLength(1);
    expect(ids[0]![0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(alertIds(there)).toEqual(ids);
  });

  it('get a new id when what they say changes', () => {
    const a = loadRules([dirWith({ 'a.yml': detection('x', 'login.failure') })]).detections[0]!.uid;
    const b = loadRules([dirWith({ 'a.yml': detection('x', 'login.success') })]).detections[0]!.uid;
    expect(a).not.toBe(b);
  });

  it('tell apart correlations of the same text over different rules of the same name', () => {
    const set = loadRules([dirWith({ 'a.yml': pair('login.failure'), 'b.yml': pair('signup.failure') })]);
    expect(set.diagnostics.items).toEqual([]);
    expect(set.correlations).toHaveLength(2);
    expect(new Set(set.correlations.map((c) => c.uid)).size).toBe(2);
  });

  it('are loaded once, with a warning, when two have the same content (AW1111)', () => {
    const set = loadRules([
      dirWith({ 'a.yml': detection('x', 'login.failure'), 'b.yml': detection('x', 'login.failure') }),
    ]);
    expect(set.diagnostics.items.map((d) => [d.code, d.severity, d.span.file.endsWith('b.yml')])).toEqual([
      ['AW1111', 'warning', true],
    ]);
    expect(set.detections).toHaveLength(1);
  });
});

describe('durations', () => {
  const huge = '99999999999999999999999d';
  const errorsOf = (text: string) =>
    loadRuleText('x.yml', text).diagnostics.items.map((d) => [d.code, d.message, d.span.start.line]);

  it('refuse a correlation timespan beyond 3650d (AW1403), instead of loading an infinite window', () => {
    const set = loadRuleText(
      'x.yml',
      `${detection('f', 'login.failure')}---\n${correlation('C', 'f').replace('1h', huge)}`,
    );
    expect(set.diagnostics.items.map((d) => [d.code, d.message])).toEqual([
      ['AW1403', `\`${huge}\` is longer than the longest timespan taken, 3650d (ten years).`],
    ]);
    expect(set.correlations).toEqual([]);
    const edge = loadRuleText(
      'x.yml',
      `${detection('f', 'login.failure')}---\n${correlation('C', 'f').replace('1h', '3650d')}`,
    );
    expect(edge.correlations[0]!.timespanMs).toBe(3650 * 86_400_000);
  });

  it('refuse response durations, suppress and correlation parameters beyond 3650d (AW1601), at the value', () => {
    const base = detection('f', 'login.failure');
    const longer = 'is longer than the longest duration taken, 3650d (ten years).';
    expect(errorsOf(`${base}response:\n  - {action: block_ip, duration: ${huge}}\n`)).toEqual([
      ['AW1601', `\`response.0.duration\` ${longer}`, 8],
    ]);
    expect(errorsOf(`${base}suppress: 3651d\n`)).toEqual([['AW1601', `\`suppress\` ${longer}`, 7]]);
    expect(
      loadRuleText('x.yml', `${base}response:\n  - {action: block_ip, duration: 3650d}\n`).detections,
    ).toHaveLength(1);
    const dormant = `${base}---\ntitle: D\ncorrelation:\n  type: dormant_account\n  rules: [f]\n  group-by: [user.name]\n  gap: ${huge}\n`;
    const items = errorsOf(dormant);
    expect(items).toHaveLength(1);
    expect(items[0]![0]).toMatch(/^AW16/);
    expect(items[0]![1]).toContain(longer);
    expect(items[0]![2]).toBe(13);
  });
});

describe('filters', () => {
  it('exclude matching events from the rules they name', () => {
    const set = loadRuleText(
      'x.yml',
      `${detection('failures', 'login.failure')}---\n` +
        'title: Ignore the office\nlogsource: {product: authwatch}\nfilter:\n  rules: [failures]\n  office:\n    ip|cidr: 10.0.0.0/8\n  condition: office\n',
    );
    expect(set.diagnostics.items).toEqual([]);
    const index = new RuleIndex(set.detections);
    const hits = (ip: string) => {
      let n = 0;
      index.forEachMatch({ type: 'login.failure', ip }, () => n++);
      return n;
    };
    expect(hits('203.0.113.1')).toBe(1);
    expect(hits('10.1.2.3')).toBe(0);
  });
});

describe('rule index', () => {
  it('routes events only to rules whose type constraint they meet', () => {
    const set = loadRuleText(
      'x.yml',
      [
        detection('f', 'login.failure'),
        detection('s', 'login.success'),
        'title: any\nlogsource: {product: authwatch}\ndetection:\n  sel: {ip|cidr: 10.0.0.0/8}\n  condition: sel\n',
        'title: either\nlogsource: {product: authwatch}\ndetection:\n  a: {type: [login.failure, mfa.push.sent]}\n  b: {type: signup.success}\n  condition: a or b\n',
        'title: negated\nlogsource: {product: authwatch}\ndetection:\n  a: {type: login.failure}\n  condition: not a\n',
      ].join('---\n'),
    );
    const index = new RuleIndex(set.detections);
    expect(index.candidateCount('canonical', 'login.failure')).toBe(4); // f, any, either, negated
    expect(index.candidateCount('canonical', 'LOGIN.SUCCESS')).toBe(3); // s, any, negated
    expect(index.candidateCount('canonical', 'signup.success')).toBe(3); // any, either, negated
    expect(index.candidateCount('canonical', 'other')).toBe(2); // any, negated
    const matched: string[] = [];
    index.forEachMatch({ type: 'login.success', ip: '10.0.0.1' }, (r) => matched.push(r.title));
    expect(matched).toEqual(['s', 'any', 'negated']);
  });

  it("gives rules on a source only that source's raw record", () => {
    const set = loadRuleText(
      'x.yml',
      'title: raw\nlogsource: {product: okta}\ndetection:\n  sel: {eventType: user.session.start}\n  condition: sel\n',
    );
    const index = new RuleIndex(set.detections);
    const count = (event: Record<string, unknown>) => {
      let n = 0;
      index.forEachMatch(event, () => n++);
      return n;
    };
    expect(count({ source: 'okta', raw: { eventType: 'user.session.start' } })).toBe(1);
    expect(count({ source: 'auth0', raw: { eventType: 'user.session.start' } })).toBe(0);
    expect(count({ eventType: 'user.session.start' })).toBe(0);
  });
});

describe('regular expressions cannot stall the engine', () => {
  it('runs a catastrophic pattern in linear time', () => {
    const set = loadRuleText(
      'x.yml',
      "title: r\nlogsource: {product: authwatch}\ndetection:\n  sel: {user|re: '^(a+)+$'}\n  condition: sel\n",
    );
    expect(set.diagnostics.items).toEqual([]); // linear: no AW1207
    const rule = set.detections[0]!;
    const t0 = Date.now();
    expect(rule.predicate({ user: 'a'.repeat(50_000) + 'b' })).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('bounds a backtracking pattern by its budget and counts it as no match', () => {
    const set = loadRuleText(
      'x.yml',
      "title: r\nlogsource: {product: authwatch}\ndetection:\n  sel: {user|re: '^(?=a)(a+)+$'}\n  condition: sel\n",
      { regexBudgetMs: 20 },
    );
    expect(set.diagnostics.items.map((d) => d.code)).toEqual(['AW1207']);
    const rule = set.detections[0]!;
    expect(rule.predicate({ user: 'aaaa' })).toBe(true);
    const t0 = Date.now();
    expect(rule.predicate({ user: 'a'.repeat(40) + 'b' })).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('hostile rules', () => {
  const rule = (name: string, condition: string) =>
    `title: ${name}\nname: ${name}\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: login.success}\n  condition: ${condition}\n`;

  it('reports conditions nested too deep where they are, and loads the other rules', () => {
    const dir = dirWith({
      'a_parens.yml': rule('parens', `${'('.repeat(2000)}sel${')'.repeat(2000)}`),
      'b_nots.yml': rule('nots', `${'not '.repeat(10_000)}sel`),
      'c_ors.yml': rule('ors', Array(2000).fill('sel').join(' or ')),
      'd_good.yml': rule('good', 'sel'),
    });
    const set = loadRules([dir]);
    expect(set.diagnostics.items.map((d) => [d.code, d.span.file.split('/').pop(), d.span.start.line])).toEqual([
      ['AW1306', 'a_parens.yml', 6],
      ['AW1306', 'b_nots.yml', 6],
    ]);
    expect(set.detections.map((r) => r.name).sort()).toEqual(['good', 'ors']);
    // The long chain compiled into a rule that works.
    const ors = set.detections.find((r) => r.name === 'ors')!;
    expect(ors.predicate({ type: 'login.success' })).toBe(true);
    expect(ors.predicate({ type: 'login.failure' })).toBe(false);
  });
});
