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

/** A Sigma timespan in milliseconds, or undefined when `text` is not one. */
export function parseTimespan(text: string): number | undefined {
  const m = TIMESPAN.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/** A configuration duration (`0`, `250ms`, `10s`, `5m`, `1h`, `1d`) in milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  return m[1] === undefined ? 0 : Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** The pattern `schemas/config.schema.json` gives duration keys; kept equal to DURATION by a test. */
export const DURATION_PATTERN = DURATION.source;
