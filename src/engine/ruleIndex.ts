import type { AuthEvent } from '../events/authEvent.js';
import { TYPE_FIELDS, type DetectionRule, type Doc, type RuleTarget } from '../rules/model.js';
import { compileAccessor, parseFieldPath, type Accessor } from '../rules/sigma/fieldPath.js';

/**
 * An event as the engine sees it: the canonical record, with the source's own record under
 * `raw` (rules on `logsource.product: auth0` read that one).
 */
export interface IndexedEvent extends Doc {
  source?: unknown;
  raw?: unknown;
}

interface TargetIndex {
  target: RuleTarget;
  typeOf: Accessor;
  /** type value (lower-cased) → the rules to run, already merged with the type-agnostic ones. */
  byType: Map<string, readonly DetectionRule[]>;
  anyType: readonly DetectionRule[];
}

/**
 * Routes an event to the detection rules that can match it, as Falco indexes rules by event
 * type: a rule whose condition requires `data.type: [f, fu]` is only run on those types.
 * Rules keep their load order within each list, so results are deterministic.
 */
export class RuleIndex {
  private readonly targets = new Map<RuleTarget, TargetIndex>();
  /** The same, as an array: iterating it allocates nothing per event. */
  private readonly targetList: TargetIndex[] = [];

  constructor(rules: readonly DetectionRule[]) {
    const byTarget = new Map<RuleTarget, DetectionRule[]>();
    for (const r of rules) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
    for (const [target, list] of byTarget) {
      const path = parseFieldPath(TYPE_FIELDS[target]);
      if (!path.ok) throw new Error(`Bad type field for ${target}.`);
      const types = new Set<string>();
      for (const r of list) for (const t of r.typeValues ?? []) types.add(t);
      const byType = new Map<string, readonly DetectionRule[]>();
      for (const t of types)
        byType.set(
          t,
          list.filter((r) => r.typeValues === null || r.typeValues.has(t)),
        );
      const index: TargetIndex = {
        target,
        typeOf: compileAccessor(TYPE_FIELDS[target], path.segments),
        byType,
        anyType: list.filter((r) => r.typeValues === null),
      };
      this.targets.set(target, index);
      this.targetList.push(index);
    }
  }

  /** The record a rule of `target` reads for this event, or undefined when it does not apply. */
  static docFor(target: RuleTarget, event: IndexedEvent): Doc | undefined {
    if (target === 'canonical') return event;
    return event.source === target && event.raw !== null && typeof event.raw === 'object'
      ? (event.raw as Doc)
      : undefined;
  }

  /** Calls `onMatch` for every detection rule the event matches (filters applied). */
  forEachMatch(event: IndexedEvent | AuthEvent, onMatch: (rule: DetectionRule, doc: Doc) => void): void {
    // A canonical event is a plain record; its interface only lacks the index signature.
    const record = event as IndexedEvent;
    for (const index of this.targetList) {
      const doc = RuleIndex.docFor(index.target, record);
      if (doc === undefined) continue;
      const t = index.typeOf(doc);
      // Type codes are lower-case in practice; fold only when the exact value is unknown.
      const rules =
        (typeof t === 'string' ? (index.byType.get(t) ?? index.byType.get(t.toLowerCase())) : undefined) ??
        index.anyType;
      for (const rule of rules) {
        if (!rule.predicate(doc)) continue;
        if (rule.filters.length > 0 && rule.filters.some((f) => f.predicate(doc))) continue;
        onMatch(rule, doc);
      }
    }
  }

  /** How many rules an event of this type meets, for benchmarks and metrics. */
  candidateCount(target: RuleTarget, type: string): number {
    const index = this.targets.get(target);
    return index ? (index.byType.get(type.toLowerCase()) ?? index.anyType).length : 0;
  }
}
