import { CompactStateCorrelator } from './compactStateCorrelator.js';
import type { CorrelationRule } from '../../rules/model.js';
import { parseTimespan } from '../../time/duration.js';
import { pairFiring, type CorrelatorFactory, type CorrelatorOptions, type Firing, type Hit } from './correlator.js';
import { groupOrUserReader } from './impossibleTravel.js';

const DAY_MS = 86_400_000;

/** The group's newest hit, as the versions that kept it on the heap saved it. */
interface LastSeen {
  t: number;
  id: string;
}

/**
 * Dormant account: a group (by default the user) is seen again more than `gap` after it was
 * last seen. The first hit of a group never fires: there is nothing to measure from.
 *
 * The state that matters is exactly that of groups idle for a long time, so it is kept
 * outside the heap (one record per group: the time and id of its newest hit) and neither the
 * key limit nor the heap budget evicts it; only its own byte bound does. Time frees a group
 * only when the rule's `timespan` says how long to remember (a group idle longer than that
 * starts over).
 */
export const dormantAccount: CorrelatorFactory = (rule, options) => new DormantAccount(rule, options);

class DormantAccount extends CompactStateCorrelator<LastSeen> {
  protected readonly textValues = true;
  private readonly readGroup: ReturnType<typeof groupOrUserReader>;
  private readonly gapMs: number;
  /** How long a group is remembered; infinite unless the timespan is set (and longer than the gap). */
  private readonly memoryMs: number;

  constructor(rule: CorrelationRule, options: CorrelatorOptions) {
    super(rule, options);
    this.readGroup = groupOrUserReader(rule);
    const gap = typeof rule.params.gap === 'string' ? parseTimespan(rule.params.gap) : undefined;
    if (gap === undefined) throw new Error(`The dormant_account correlation ${rule.uid} has no valid \`gap\`.`);
    this.gapMs = gap;
    this.memoryMs = rule.timespanMs > gap ? rule.timespanMs : Number.POSITIVE_INFINITY;
  }

  observe(hit: Hit, watermark: number): Firing | undefined {
    const g = this.readGroup(hit);
    if (!g) return undefined;
    if (hit.time < watermark) {
      this.late++;
      return undefined;
    }
    const seen = this.groups.has(g.key);
    const previousTime = seen ? this.groups.foundTime() : 0;
    // A late hit older than the newest one tells nothing about the gap before the newest.
    if (seen && hit.time <= previousTime) return undefined;
    const gap = hit.time - previousTime;
    const fires = seen && gap > this.gapMs && gap <= this.memoryMs;
    const previousId = fires ? this.groups.foundText() : '';
    this.groups.set(g.key, hit.time, hit.eventId);
    if (!fires) return undefined;
    return pairFiring(
      g,
      { t: previousTime, id: previousId },
      { t: hit.time, id: hit.eventId },
      {
        gap_days: Math.round((gap / DAY_MS) * 10) / 10,
        last_seen: previousTime,
        seen_again: hit.time,
      },
    );
  }

  expire(watermark: number): void {
    if (Number.isFinite(this.memoryMs)) this.groups.sweepBefore(watermark - this.memoryMs);
  }

  protected fromHeap(key: string, last: LastSeen): void {
    this.groups.set(key, last.t, last.id);
  }
}
