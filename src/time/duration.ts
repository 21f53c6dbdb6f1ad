/**
 * Durations as people write them in rules and configuration.
 *
 * Sigma timespans (`timespan: 5m`) take a positive count of seconds, minutes, hours or days.
 * Configuration durations also take milliseconds and zero (`linger: 0`, `partition_wait: 200ms`),
 * as timers, unlike windows, need them.
 */

const TIMESPAN = /^([1-9][0-9]*)([smhd])$/;
const DURATION = /^(?:0|([1-9][0-9]*)(ms|s|m|h|d))$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest timespan or duration taken: 3650 days (ten years). A longer one is a typo or
 * means "forever", and the digits of `9999…9d` soon stop being a number of milliseconds at
 * all (an action's `duration_ms` would be null); both are refused where they are written.
 */
export const MAX_DURATION_MS = 3650 * UNIT_MS.d!;
export const MAX_DURATION_TEXT = '3650d';

/** A Sigma timespan in milliseconds, or undefined when `text` is not one or is longer than MAX_DURATION_MS. */
export function parseTimespan(text: string): number | undefined {
  const m = TIMESPAN.exec(text);
  return m ? bounded(Number(m[1]) * UNIT_MS[m[2]!]!) : undefined;
}

/** A configuration duration (`0`, `250ms`, `10s`, `5m`, `1h`, `1d`) in milliseconds, or undefined (also beyond MAX_DURATION_MS). */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  return m[1] === undefined ? 0 : bounded(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/**
 * True when `text` has the form of a timespan or duration but is longer than the longest
 * taken: the check behind the JSON Schema format `bounded-duration`, which leaves the form to
 * the schema's own `pattern`.
 */
export function tooLong(text: string): boolean {
  const m = /^([1-9][0-9]*)(ms|s|m|h|d)$/.exec(text);
  return m !== null && bounded(Number(m[1]) * UNIT_MS[m[2]!]!) === undefined;
}

function bounded(ms: number): number | undefined {
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

/** The pattern `schemas/config.schema.json` gives duration keys; kept equal to DURATION by a test. */
export const DURATION_PATTERN = DURATION.source;
