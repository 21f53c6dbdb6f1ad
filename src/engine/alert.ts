import { createHash } from 'node:crypto';
import type { CorrelationType, Factor, Level, ResponseAction } from '../rules/model.js';

/** Who and what an alert is about, taken from the event that completed the detection. */
export interface Entities {
  user?: string;
  user_id?: string;
  ip?: string;
  session?: string;
  device?: string;
  client?: string;
  phone?: string;
  country?: string;
  asn?: number;
}

/** An alert, as published to the alerts topic and stored in ClickHouse (schemas/alert.schema.json). */
export interface Alert {
  /** Deterministic: the same input gives the same id, after a restart or in a replay. */
  alert_id: string;
  rule_id: string;
  rule_title: string;
  /** `detection` for a single-event rule, else the correlation type. */
  rule_type: 'detection' | CorrelationType;
  level: Level;
  tags: string[];
  mode: 'monitor' | 'enforce';
  /** The group-by values of a correlation (empty for single-event rules). */
  group: Record<string, string>;
  entities: Entities;
  /** Event times, epoch ms: the first and last event that took part, and the one that completed it. */
  first_seen: number;
  last_seen: number;
  detected_at: number;
  event_count: number;
  /** A bounded sample of the ids of the events that took part, oldest first. */
  event_ids: string[];
  /** Distinct values of the counted field (value_count), bounded. */
  distinct_values?: string[];
  /** Rule-specific facts: travel from/to/km/km/h, a changed value's from/to, a count or sum. */
  context?: Record<string, unknown>;
  description?: string;
}

export type ActionTargetKind = 'user' | 'ip' | 'session' | 'device' | 'client' | 'phone' | 'none';

/** A response action, as published to the actions topic (schemas/action.schema.json). */
export interface Action {
  action_id: string;
  alert_id: string;
  type: ResponseAction;
  target: { kind: ActionTargetKind; value: string };
  parameters: { duration_ms?: number; channel?: string; reason?: string; factor?: Factor };
  /** `dry_run` for rules in monitor mode: consumers log it and do not enforce it. */
  mode: 'dry_run' | 'enforce';
  created_at: number;
  /** Event time after which the action no longer holds: its duration, or for an instant one the cooldown. */
  expires_at?: number;
}

/** How many event ids and distinct values an alert carries at most. */
export const ALERT_SAMPLE_SIZE = 20;

/** A 128-bit id, hex, from the parts that make an alert or action what it is. */
export function stableId(...parts: (string | number)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(String(p)).update('\u0000');
  return h.digest('hex').slice(0, 32);
}
