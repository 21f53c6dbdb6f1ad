import type { CorrelationType } from '../../rules/model.js';
import { conversion } from './conversion.js';
import type { CorrelatorFactory } from './correlator.js';
import { dormantAccount } from './dormantAccount.js';
import { eventCount } from './eventCount.js';
import { impossibleTravel } from './impossibleTravel.js';
import { newValue } from './newValue.js';
import { temporal, temporalOrdered } from './temporal.js';
import { valueAvg, valuePercentile, valueSum } from './valueAggregate.js';
import { valueChange } from './valueChange.js';
import { valueCount } from './valueCount.js';

/** Every correlation type's evaluator: a record over the closed set, so a new type does not compile until it is here. */
export const correlators: { readonly [T in CorrelationType]: CorrelatorFactory } = {
  event_count: eventCount,
  value_count: valueCount,
  temporal,
  temporal_ordered: temporalOrdered,
  value_sum: valueSum,
  value_avg: valueAvg,
  value_percentile: valuePercentile,
  impossible_travel: impossibleTravel,
  value_change: valueChange,
  new_value: newValue,
  dormant_account: dormantAccount,
  conversion,
};
