import type { CorrelationType } from '../rules/model.js';
import type { CorrelatorStats } from './correlations/correlator.js';

/**
 * Heap bytes one group of a correlation holds, and one entry of a counting rule's window:
 * measured with 100,000 groups after a forced GC (Auth0-style user ids and 56-digit event ids
 * from JSON.parse, the group's key and ids retained as a decoder leaves them), rounded up.
 * The counting rules: 234 bytes a group and 87 an entry (event_count), 136 an entry with a
 * text value, 96 with a number. The long-horizon correlations hold their groups outside the
 * heap and report exact bytes instead.
 */
const GROUP_BYTES: Partial<Record<CorrelationType, number>> = {
  event_count: 240,
  value_count: 260,
  value_percentile: 260,
  value_sum: 250,
  value_avg: 250,
  temporal: 500,
  temporal_ordered: 500,
  impossible_travel: 400,
  value_change: 500,
  conversion: 1650,
};

const ENTRY_BYTES: Partial<Record<CorrelationType, number>> = {
  event_count: 90,
  value_count: 140,
  value_percentile: 140,
  value_sum: 100,
  value_avg: 100,
};

/** What a rule's state holds, in bytes: its own exact figure when it has one, else the estimate. */
export function stateBytes(type: CorrelationType, stats: CorrelatorStats): number {
  if (stats.bytes !== undefined) return stats.bytes;
  return stats.keys * (GROUP_BYTES[type] ?? 500) + (stats.entries ?? 0) * (ENTRY_BYTES[type] ?? 0);
}
