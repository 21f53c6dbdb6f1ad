import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying a record's signature: `t=<epoch ms>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'authwatch-signature';
/** The header naming the key that signed, when the configuration names one (for rotation). */
export const KEY_ID_HEADER = 'authwatch-key-id';

/** What is signed: the signing time, a dot, the record's value exactly as published. */
function mac(key: string, time: number, value: string): Buffer {
  return createHmac('sha256', key).update(`${time}.`).update(value).digest();
}

/** The signature header of `value`, signed with `key` at `time` (epoch ms). */
export function sign(key: string, value: string, time: number): string {
  return `t=${time},v1=${mac(key, time, value).toString('hex')}`;
}

export type Verdict = { ok: true; time: number } | { ok: false; reason: string };

/**
 * Checks a signature header against the record's value: the HMAC must match (compared in
 * constant time) and the signing time lie within `maxAgeMs` of `now`, so that a record
 * captured and sent again later is refused. What a consumer of the alert and action topics
 * (or of any sink that carries the header) runs before it trusts a record.
 */
export function verify(
  key: string,
  value: string,
  header: string | undefined,
  { now = Date.now(), maxAgeMs = 300_000 }: { now?: number; maxAgeMs?: number } = {},
): Verdict {
  const m = /^t=(\d{1,16}),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return { ok: false, reason: 'no signature, or not of the form t=<ms>,v1=<hex>' };
  const time = Number(m[1]);
  const expected = mac(key, time, value);
  if (!timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')))
    return { ok: false, reason: 'the signature does not match' };
  if (Math.abs(now - time) > maxAgeMs)
    return { ok: false, reason: `signed ${Math.round((now - time) / 1000)} s from now` };
  return { ok: true, time };
}
