import type { CorrelationType } from '../model.js';
import type { CorrelationKindSpec } from './kinds.js';

const duration = { type: 'string', pattern: '^[1-9][0-9]*[smhd]$', format: 'bounded-duration' };

/** Every correlation type authwatch loads: Sigma's seven and authwatch's extensions. */
export const correlationKinds: { readonly [T in CorrelationType]: CorrelationKindSpec & { type: T } } = {
  event_count: {
    type: 'event_count',
    summary: 'counts the events of the referenced rules per group within the timespan',
    condition: 'required',
    field: 'ignored',
    groupBy: 'required',
  },
  value_count: {
    type: 'value_count',
    summary: 'counts the distinct values of `field` per group within the timespan',
    condition: 'required',
    field: 'required',
    groupBy: 'required',
  },
  temporal: {
    type: 'temporal',
    summary: 'all (or `condition` many) of the referenced rules match for a group within the timespan, in any order',
    condition: 'optional',
    field: 'ignored',
    groupBy: 'required',
  },
  temporal_ordered: {
    type: 'temporal_ordered',
    summary: 'the referenced rules match for a group within the timespan in the order listed',
    condition: 'optional',
    field: 'ignored',
    groupBy: 'required',
  },
  value_sum: {
    type: 'value_sum',
    summary: 'sums `field` per group within the timespan',
    condition: 'required',
    field: 'required',
    groupBy: 'required',
  },
  value_avg: {
    type: 'value_avg',
    summary: 'averages `field` per group within the timespan',
    condition: 'required',
    field: 'required',
    groupBy: 'required',
  },
  value_percentile: {
    type: 'value_percentile',
    summary: "the percentile rank of an event's `field` value among the group's values within the timespan",
    condition: 'required',
    field: 'required',
    groupBy: 'required',
  },
  impossible_travel: {
    type: 'impossible_travel',
    summary: 'the speed between consecutive geolocated events of a group exceeds a threshold',
    condition: 'none',
    field: 'ignored',
    groupBy: 'optional',
    params: {
      type: 'object',
      properties: {
        max_speed_kmh: { type: 'number', exclusiveMinimum: 0, default: 1000 },
        min_distance_km: { type: 'number', minimum: 0, default: 100 },
      },
    },
  },
  value_change: {
    type: 'value_change',
    summary: "a group's `field` value changes (reported from → to)",
    condition: 'none',
    field: 'required',
    groupBy: 'required',
  },
  new_value: {
    type: 'new_value',
    summary: 'a `field` value is seen for a group for the first time, after a learning period',
    condition: 'none',
    field: 'required',
    groupBy: 'required',
    params: {
      type: 'object',
      properties: {
        learning_period: duration,
        // Only these values alert when new; the others are learned silently.
        alert_on: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      },
    },
  },
  dormant_account: {
    type: 'dormant_account',
    summary: 'a group is seen again after a gap longer than `gap`',
    condition: 'none',
    field: 'ignored',
    groupBy: 'optional',
    params: {
      type: 'object',
      properties: { gap: duration },
      required: ['gap'],
    },
  },
  conversion: {
    type: 'conversion',
    summary:
      'the share of attempts (first rule, per group) completed by the second rule for the same `field` value is too low',
    condition: 'none',
    field: 'required',
    groupBy: 'required',
    params: {
      type: 'object',
      properties: {
        completion_window: duration,
        known_for: duration,
        min_attempts: { type: 'number', minimum: 1, default: 20 },
        new_destination_attempts: { type: 'number', minimum: 1, default: 3 },
        max_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.3 },
        allow: { type: 'array', items: { type: 'string' } },
        only_allowed: { type: 'boolean' },
      },
    },
  },
};
