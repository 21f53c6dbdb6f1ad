import { GroupStateCorrelator } from './groupStateCorrelator.js';
import type { CorrelationRule } from '../../rules/model.js';
import { parseTimespan } from '../../time/duration.js';
import { pairFiring, type CorrelatorFactory, type CorrelatorOptions, type Firing, type Hit } from './correlator.js';
import { groupOrUserReader } from './impossibleTravel.js';

const DAY_MS = 86_400_000;

/** The group's newest hit. */
interface LastSeen {
  t: number;
  id: string;
}

/**
 * Dormant account: a group (by default the user) is seen again more than `gap` after it was
 * last seen. The first hit of a group never fires: there is nothing to measure from.
 *
 * The state that matters is exactly that of groups idle for a long time, so time alone never
 * frees it unless the rule's `timespan` says how long to remember (a group idle longer than
 * that starts over); otherwise the key limit bounds memory, evicting the longest idle first.
 */
export const dormantAccount: CorrelatorFactory = (rule, options) => new DormantAccount(rule, options);

class DormantAccount extends GroupStateCorrelator<LastSeen, LastSeen> {
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
    const previous = this.groups.peek(g.key);
    // A late hit older than the newest one tells nothing about the gap before the newest.
    if (previous && hit.time <= previous.t) {
      this.groups.touch(g.key, () => previous);
      return undefined;
    }
    this.groups.set(g.key, { t: hit.time, id: hit.eventId });
    if (!previous) return undefined;
    const gap = hit.time - previous.t;
    if (gap <= this.gapMs || gap > this.memoryMs) return undefined;
    return pairFiring(
      g,
      previous,
      { t: hit.time, id: hit.eventId },
      {
        gap_days: Math.round((gap / DAY_MS) * 10) / 10,
        last_seen: previous.t,
        seen_again: hit.time,
      },
    );
  }

  expire(watermark: number): void {
    if (!Number.isFinite(this.memoryMs)) return;
    const horizon = watermark - this.memoryMs;
    this.groups.sweep((last) => last.t < horizon);
  }

  protected save(last: LastSeen): LastSeen {
    return { ...last };
  }

  protected load(last: LastSeen): LastSeen {
    return { ...last };
  }
}
