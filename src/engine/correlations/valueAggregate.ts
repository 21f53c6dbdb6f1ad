import { fieldReader, meetsCondition, scalarText, type CorrelatorFactory, type Hit } from './correlator.js';
import { conditionEvaluator, lowerBounded, NumberWindow, TextWindow, windowCorrelator } from './slidingWindow.js';

/** value_percentile is not evaluated before a group's window holds this many values. */
export const PERCENTILE_MIN_VALUES = 20;

/** Sigma value_sum: the sum of the numeric `field` over a group's hits within `timespan`. */
export const valueSum = numericAggregate('sum', (agg) => agg.sum);

/** Sigma value_avg: the mean of the numeric `field` over a group's hits within `timespan`. */
export const valueAvg = numericAggregate('avg', (agg) => agg.sum / agg.count);

/** A correlation on one aggregate of a numeric field's window, reported in the context as `name`. */
function numericAggregate(name: 'sum' | 'avg', of: (agg: { sum: number; count: number }) => number): CorrelatorFactory {
  return (rule, options) =>
    windowCorrelator(rule, options, {
      create: () => new NumberWindow(),
      read: numberReader(rule),
      evaluate: conditionEvaluator<number, NumberWindow>(rule, of, (agg) => ({ [name]: of(agg) })),
      consumes: lowerBounded(rule.condition),
    });
}

/**
 * Sigma value_percentile, which the specification leaves vague ("check when a certain
 * percentage of observed values occur"; its example, `lte: 1`, flags a process name seen in
 * at most 1 % of a computer's process starts). authwatch reads it as rarity: for a hit with
 * value v, the percentage of the group's values in the window ending at the hit,
 * `[t - timespan, t]`, that equal v (the hit included), compared with the condition. So
 * `lte: 1` fires when v makes up at most 1 % of the group's recent values.
 *
 * - The window must hold at least PERCENTILE_MIN_VALUES values; before that every value is
 *   "rare" and a group's first events would all fire.
 * - Values compare as text (`scalarText`): a percentile of names is as useful as of numbers.
 * - A firing does not consume the window: the window is the baseline the next value is
 *   measured against. `count`, `first` and `last` describe that baseline; `eventIds` are
 *   the events carrying the rare value. Context: `{percent, value}`.
 */
export const valuePercentile: CorrelatorFactory = (rule, options) => {
  const field = fieldReader(rule);
  const { condition, timespanMs } = rule;
  return windowCorrelator(rule, options, {
    create: () => new TextWindow(),
    read: (hit) => scalarText(field(hit)),
    evaluate(w, k, inOrder, value) {
      const range = inOrder ? w.current().range : w.ending(k, timespanMs);
      const count = range.end - range.start;
      if (count < PERCENTILE_MIN_VALUES) return undefined;
      const percent = (w.occurrences(value, range) * 100) / count;
      if (!meetsCondition(percent, condition)) return undefined;
      return { range, context: { percent, value }, eventIds: w.idsOf(value, range) };
    },
    consumes: false,
  });
};

/** Numbers and numeric strings; anything else (absent, text, booleans) is not counted. */
function numberReader(rule: Parameters<CorrelatorFactory>[0]): (hit: Hit) => number | undefined {
  const field = fieldReader(rule);
  return (hit) => {
    const v = field(hit);
    if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
    if (typeof v === 'string' && v.trim() !== '') {
      const n = Number(v);
      return Number.isFinite(n) ? n : undefined;
    }
    return undefined;
  };
}
