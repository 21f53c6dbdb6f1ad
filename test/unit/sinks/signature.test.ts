import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sign, verify } from '../../../src/sinks/signature.js';

const KEY = 'a shared key of some length';
const VALUE = JSON.stringify({ alert_id: '0'.repeat(32), rule_id: 'credential-stuffing-single-ip', level: 'high' });
const T = 1_767_000_000_000;

describe('record signatures', () => {
  it('is an HMAC-SHA256 of the time, a dot and the value, as a receiver would compute it', () => {
    const expected = createHmac('sha256', KEY).update(`${T}.${VALUE}`).digest('hex');
    expect(sign(KEY, VALUE, T)).toBe(`t=${T},v1=${expected}`);
  });

  it('accepts a fresh signature of the record as published', () => {
    expect(verify(KEY, VALUE, sign(KEY, VALUE, T), { now: T + 1000 })).toEqual({ ok: true, time: T });
  });

  it('refuses a changed record, another key, a stale or future signature, and no signature', () => {
    const header = sign(KEY, VALUE, T);
    expect(verify(KEY, VALUE.replace('high', 'low'), header, { now: T })).toMatchObject({ ok: false, reason: /match/ });
    expect(verify('another key entirely', VALUE, header, { now: T })).toMatchObject({ ok: false, reason: /match/ });
    expect(verify(KEY, VALUE, header, { now: T + 301_000 })).toMatchObject({ ok: false, reason: /301 s/ });
    expect(verify(KEY, VALUE, header, { now: T - 301_000 })).toMatchObject({ ok: false });
    expect(verify(KEY, VALUE, header, { now: T + 3_600_000, maxAgeMs: 7_200_000 })).toMatchObject({ ok: true });
    // A signature moved to another time does not verify either.
    expect(verify(KEY, VALUE, header.replace(`t=${T}`, `t=${T + 1}`), { now: T })).toMatchObject({ ok: false });
    for (const bad of [undefined, '', 'v1=abc', `t=${T},v1=${'0'.repeat(63)}`, `t=${T},v1=${'z'.repeat(64)}`])
      expect(verify(KEY, VALUE, bad, { now: T })).toMatchObject({ ok: false, reason: /form/ });
  });
});

describe("the README's consumer check", () => {
  it('accepts what authwatch signs and refuses a changed record', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block =
      /```js\n(import \{ createHmac, timingSafeEqual \} from 'node:crypto';\n\nfunction verified[\s\S]*?)```/.exec(
        readme,
      );
    expect(block).not.toBeNull();
    const body = block![1]!.replace(/^import .*\n/, '');
    const verified = new Function('createHmac', 'timingSafeEqual', `${body}\nreturn verified;`)(
      createHmac,
      timingSafeEqual,
    ) as (value: Buffer, header: string, key: string) => boolean;
    const header = sign(KEY, VALUE, Date.now());
    expect(verified(Buffer.from(VALUE), header, KEY)).toBe(true);
    expect(verified(Buffer.from(VALUE.replace('high', 'low')), header, KEY)).toBe(false);
    expect(verified(Buffer.from(VALUE), sign(KEY, VALUE, Date.now() - 600_000), KEY)).toBe(false);
  });
});
