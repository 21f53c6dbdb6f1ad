import type { CorrelatorFactory } from './correlator.js';
import { conditionEvaluator, CountWindow, lowerBounded, windowCorrelator } from './slidingWindow.js';

/** Sigma event_count: the number of a group's hits within `timespan`. */
export const eventCount: CorrelatorFactory = (rule, options) =>
  windowCorrelator(rule, options, {
    create: () => new CountWindow(),
    read: () => null,
    evaluate: conditionEvaluator<null, CountWindow>(
      rule,
      (agg) => agg.count,
      (agg) => ({ count: agg.count }),
    ),
    consumes: lowerBounded(rule.condition),
  });
