import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { codePointLength } from '../../../src/events/codePointLength.js';
import { validate as generated } from '../../../src/events/eventValidator.generated.js';
import { createRecordDecoder } from '../../../src/events/recordDecoder.js';
import { correlationKinds } from '../../../src/rules/correlations/registry.js';
import { formatRecords } from '../../../src/simulate/formats.js';
import { prng, simulate } from '../../../src/simulate/simulate.js';

const GENERATOR = '../../../scripts/schema-code.mjs';

interface Generator {
  eventValidatorSource(): string;
  ruleChecksSource(kinds: unknown): string;
  EVENT_TARGET: string;
  RULE_CHECKS_TARGET: string;
}

describe('the event check compiled ahead', () => {
  it('is what the generator writes from the schemas today (run `npm run schemas:code` after editing one)', async () => {
    const g = (await import(GENERATOR)) as Generator;
    expect(readFileSync(g.EVENT_TARGET, 'utf8') === g.eventValidatorSource()).toBe(true);
    expect(readFileSync(g.RULE_CHECKS_TARGET, 'utf8') === g.ruleChecksSource(correlationKinds)).toBe(true);
  });

  it('judges events as ajv compiling the schema now does, errors included', () => {
    const fresh: ValidateFunction = new Ajv({ allErrors: false, strict: false }).compile(
      JSON.parse(readFileSync('schemas/auth-event.schema.json', 'utf8')) as object,
    );
    const check = generated as unknown as ValidateFunction;
    // Real decoded events, then each broken one way or another.
    const decode = createRecordDecoder({ now: () => Date.UTC(2026, 10, 3) });
    const { events } = simulate({
      seed: 11,
      users: 300,
      hours: 4,
      start: Date.UTC(2026, 10, 2),
      attacks: ['credential_stuffing', 'sms_pumping', 'impossible_travel'],
    });
    const decoded: Record<string, unknown>[] = [];
    events.forEach((e, n) => {
      for (const format of ['auth0', 'okta', 'canonical'] as const) {
        for (const record of formatRecords(e, format, 11, n)) {
          const r = decode(Buffer.from(JSON.stringify(record)));
          if (r.ok) decoded.push(JSON.parse(JSON.stringify(r.event)) as Record<string, unknown>);
        }
      }
    });
    expect(decoded.length).toBeGreaterThan(1000);
    const rnd = prng(5);
    const breaks: ((e: Record<string, unknown>) => void)[] = [
      () => {},
      (e) => (e.ip = 17),
      (e) => (e.user = 'x'.repeat(5000)),
      (e) => (e.user = '😀'.repeat(4096)), // 8192 UTF-16 units, 4096 code points: allowed
      (e) => (e.user = '😀'.repeat(4097)),
      (e) => (e.user = ''),
      (e) => (e.unknown_field = 1),
      (e) => delete e.type,
      (e) => (e.outcome = 'maybe'),
      (e) => (e.time = 'yesterday'),
      (e) => (e.geo = { lat: 'north' }),
      (e) => (e.geo = { ...(e.geo as object), extra: true }),
      (e) => (e.tags = [1, 2]),
    ];
    let invalid = 0;
    for (const event of decoded) {
      const broken = structuredClone(event);
      breaks[Math.floor(rnd() * breaks.length)]!(broken);
      const want = fresh(broken);
      expect(check(broken)).toBe(want);
      if (!want) {
        invalid++;
        expect(check.errors).toEqual(fresh.errors);
      }
    }
    expect(invalid).toBeGreaterThan(decoded.length / 2);
  });
});

describe('codePointLength', () => {
  it("counts as ajv's ucs2length does, lone and paired surrogates included", () => {
    const rnd = prng(3);
    const units = [0x41, 0xe9, 0x4e2d, 0xd83d, 0xde00, 0xdbff, 0xdc00, 0xd800, 0xdfff, 0x20];
    const ucs2 = (createRequire(import.meta.url)('ajv/dist/runtime/ucs2length') as { default: (s: string) => number })
      .default;
    for (let i = 0; i < 5000; i++) {
      const s = String.fromCharCode(
        ...Array.from({ length: Math.floor(rnd() * 12) }, () => units[Math.floor(rnd() * units.length)]!),
      );
      expect(codePointLength(s), JSON.stringify(s)).toBe(ucs2(s));
    }
    expect(codePointLength('😀😀')).toBe(2);
    expect(codePointLength('abc')).toBe(3);
  });
});
