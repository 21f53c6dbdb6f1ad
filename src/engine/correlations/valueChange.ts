import { GroupStateCorrelator } from './groupStateCorrelator.js';
import type { CorrelationRule } from '../../rules/model.js';
import { emptyList } from '../keyedState.js';
import {
  fieldReader,
  pairFiring,
  groupReader,
  scalarText,
  type CorrelatorFactory,
  type CorrelatorOptions,
  type Firing,
  type Hit,
} from './correlator.js';

/** How long a value stays relevant when the rule gives no timespan. */
const DEFAULT_RELEVANCE_MS = 24 * 3_600_000;
/**
 * Values kept per group. Only hits within the allowed lateness (and the one just before it)
 * can be a late hit's neighbours, so a few suffice; a burst beyond this loses the oldest.
 */
const POINTS_PER_GROUP = 16;

type Value = string | number | boolean;

/** One observed value; `text` is what is compared, `value` what is reported. */
interface Point {
  t: number;
  id: string;
  text: string;
  value: Value;
}

/**
 * Value change: a group's `field` value differs from the one it had just before (by event
 * time), e.g. the ASN of a session. Reported from → to.
 */
export const valueChange: CorrelatorFactory = (rule, options) => new ValueChange(rule, options);

class ValueChange extends GroupStateCorrelator<Point[], Point[]> {
  private readonly readGroup: ReturnType<typeof groupReader>;
  private readonly readField: (hit: Hit) => unknown;
  private readonly fieldName: string;
  private readonly relevantMs: number;

  constructor(rule: CorrelationRule, options: CorrelatorOptions) {
    super(rule, options);
    this.readGroup = groupReader(rule);
    this.readField = fieldReader(rule);
    this.fieldName = rule.field?.[0] ?? '';
    this.relevantMs = rule.timespanMs > 0 ? rule.timespanMs : DEFAULT_RELEVANCE_MS;
  }

  observe(hit: Hit, watermark: number): Firing | undefined {
    const raw = this.readField(hit);
    const text = scalarText(raw);
    if (text === undefined) return undefined;
    const g = this.readGroup(hit);
    if (!g) return undefined;
    if (hit.time < watermark) {
      this.late++;
      return undefined;
    }
    const point: Point = {
      t: hit.time,
      id: hit.eventId,
      text,
      value: typeof raw === 'number' || typeof raw === 'boolean' ? raw : text,
    };
    const points = this.groups.touch(g.key, emptyList);
    // Equal times keep arrival order: the later arrival counts as the later value.
    let at = points.length;
    while (at > 0 && points[at - 1]!.t > point.t) at--;
    const before = neighbour(points[at - 1], point, this.relevantMs);
    const after = neighbour(points[at], point, this.relevantMs);
    if (at === points.length) points.push(point);
    else points.splice(at, 0, point);
    this.prune(points, watermark);

    let change: [Point, Point] | undefined;
    if (before) {
      // When the value after is this one too, the change before → after was already reported.
      if (before.text !== text && after?.text !== text) change = [before, point];
    } else if (after && after.text !== text) {
      change = [point, after];
    }
    if (!change) return undefined;
    const [from, to] = change;
    return pairFiring(g, from, to, {
      field: this.fieldName,
      from: from.value,
      to: to.value,
      from_time: from.t,
      to_time: to.t,
    });
  }

  /**
   * Keeps what a hit that is not late can still meet: every point from the watermark on, and
   * the one just before it (the previous value of a hit at the watermark).
   */
  private prune(points: Point[], watermark: number): void {
    let firstKept = 0;
    while (firstKept + 1 < points.length && points[firstKept + 1]!.t < watermark) firstKept++;
    if (points[firstKept]!.t < watermark - this.relevantMs) firstKept++;
    firstKept = Math.max(firstKept, points.length - POINTS_PER_GROUP);
    if (firstKept === 0) return;
    // Shifted in place: `splice` would allocate the array of what it removes, on every hit.
    for (let i = firstKept; i < points.length; i++) points[i - firstKept] = points[i]!;
    points.length -= firstKept;
  }

  expire(watermark: number): void {
    const horizon = watermark - this.relevantMs;
    this.groups.sweep((points) => points.length === 0 || points[points.length - 1]!.t < horizon);
  }

  protected save(points: Point[]): Point[] {
    return points.map((p) => ({ ...p }));
  }

  protected load(points: Point[]): Point[] {
    return points.map((p) => ({ ...p }));
  }
}

/** A stored point, unless it is too far in time from the new one to count as its neighbour. */
function neighbour(p: Point | undefined, point: Point, relevantMs: number): Point | undefined {
  return p && Math.abs(p.t - point.t) <= relevantMs ? p : undefined;
}
