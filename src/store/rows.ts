import type { Action, Alert } from '../engine/alert.js';
import { withoutRaw, type AuthEvent } from '../events/authEvent.js';
import type { Capabilities } from './schema.js';

/**
 * Epoch ms as ClickHouse reads a time column in JSONEachRow: `YYYY-MM-DD hh:mm:ss.sss` in UTC
 * for DateTime64(3), whole seconds for DateTime. Out-of-range times are clamped to what the
 * column holds rather than rejected with the whole batch.
 */
export function timeText(ms: number, caps: Pick<Capabilities, 'dateTime64'>): string {
  const clamped = Math.min(Math.max(Number.isFinite(ms) ? ms : 0, 0), MAX_TIME_MS);
  const iso = new Date(clamped).toISOString(); // 2026-11-30T01:02:03.456Z
  return `${iso.slice(0, 10)} ${iso.slice(11, caps.dateTime64 ? 23 : 19)}`;
}

/** DateTime ends in 2106; DateTime64 goes further, but one bound keeps both engines alike. */
const MAX_TIME_MS = Date.UTC(2105, 11, 31, 23, 59, 59);

export function alertRow(a: Alert, caps: Capabilities): Record<string, unknown> {
  const e = a.entities;
  return {
    alert_id: a.alert_id,
    rule_id: a.rule_id,
    rule_title: a.rule_title,
    rule_type: a.rule_type,
    level: a.level,
    mode: a.mode,
    tags: a.tags,
    user: e.user ?? '',
    user_id: e.user_id ?? '',
    ip: e.ip ?? '',
    session: e.session ?? '',
    device: e.device ?? '',
    client: e.client ?? '',
    phone: e.phone ?? '',
    country: e.country ?? '',
    asn: e.asn ?? 0,
    first_seen: timeText(a.first_seen, caps),
    last_seen: timeText(a.last_seen, caps),
    detected_at: timeText(a.detected_at, caps),
    event_count: a.event_count,
    group_json: JSON.stringify(a.group),
    alert_json: JSON.stringify(a),
  };
}

export function actionRow(a: Action, caps: Capabilities): Record<string, unknown> {
  return {
    action_id: a.action_id,
    alert_id: a.alert_id,
    type: a.type,
    target_kind: a.target.kind,
    target_value: a.target.value,
    mode: a.mode,
    created_at: timeText(a.created_at, caps),
    expires_at: timeText(a.expires_at ?? a.created_at, caps),
    duration_ms: a.parameters.duration_ms ?? 0,
    action_json: JSON.stringify(a),
  };
}

export function eventRow(e: AuthEvent, caps: Capabilities): Record<string, unknown> {
  return {
    event_id: e.id,
    time: timeText(e.time, caps),
    type: e.type,
    source: e.source ?? '',
    outcome: e.outcome ?? '',
    user_id: e.user?.id ?? '',
    user_name: e.user?.name ?? '',
    ip: e.ip ?? '',
    country: e.geo?.country ?? '',
    asn: e.asn ?? 0,
    session_id: e.session_id ?? '',
    event_json: JSON.stringify(withoutRaw(e)),
    raw: e.raw === undefined ? '' : JSON.stringify(e.raw),
  };
}
