import { fieldReader, scalarText, type CorrelatorFactory } from './correlator.js';
import { conditionEvaluator, lowerBounded, TextWindow, windowCorrelator } from './slidingWindow.js';

/**
 * Sigma value_count: the number of distinct values of `field` among a group's hits within
 * `timespan`. Hits without a value are not counted (they add no value and would only
 * inflate the window).
 */
export const valueCount: CorrelatorFactory = (rule, options) => {
  const field = fieldReader(rule);
  return windowCorrelator(rule, options, {
    create: () => new TextWindow(),
    read: (hit) => scalarText(field(hit)),
    evaluate: conditionEvaluator<string, TextWindow>(
      rule,
      (agg) => agg.distinct,
      (agg) => ({ distinct: agg.distinct }),
    ),
    consumes: lowerBounded(rule.condition),
    distinctValues: true,
  });
};
