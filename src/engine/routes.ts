import type { AuthEvent } from '../events/authEvent.js';
import type { CorrelationRule, Doc, Rule } from '../rules/model.js';
import { accessorFor, type Accessor } from '../rules/sigma/fieldPath.js';
import { fieldsRead, scalarText, type Firing } from './correlations/correlator.js';

/** The route of a suppressed single-event rule's hits: to its `suppress` state, nowhere else. */
export const SUPPRESS_ROUTE = 's';

/**
 * One way a hit of a detection rule goes to state: to the correlations of one component (the
 * correlations chained together), or to the rule's own `suppress` state.
 */
export interface Route {
  /** The component's id (the uid of its first correlation), or SUPPRESS_ROUTE. */
  id: string;
  /** Reads the text that decides where the hit's state lives (see `Routing`). */
  key: (doc: Doc, event: AuthEvent) => string;
  /** The fields what the route feeds reads from the hit's record, all a hit sent to it carries. */
  fields: Array<[string, Accessor]>;
}

/**
 * Where the state of every hit lives, so that it can be split across partitions (the correlate
 * stage of a scaled-out deployment) and still be what one engine computes.
 *
 * Correlations chained on one another form a component: a firing feeds the correlations of its
 * own component only. A component is keyed by the group-by fields all its correlations share
 * (and its `suppress` fields, when those are given), read from the hit under the names the
 * correlations give them: equal keys mean the same groups, so one partition holds every group
 * a hit can touch. A component whose correlations share no field (or alias them differently)
 * is keyed by its id alone, and lives whole in one partition. A suppressed single-event rule
 * is keyed by its `suppress` fields, or by its uid.
 *
 * The key text names fields and values, not the component, so that components keyed by the
 * same field (every per-IP correlation) keep a given IP in one partition: the response actions
 * they order on it are de-duplicated there (`scopeOf`), as one engine does.
 */
export class Routing {
  /** Detection uid → the routes of its hits, in the order one engine feeds them. */
  readonly byDetection = new Map<string, Route[]>();
  /** Correlation uid → its component's id. */
  readonly componentOf = new Map<string, string>();
  /**
   * The fields correlations suppress by (sorted): one outside a correlation's group is read
   * from the event of the hit that fired it, so a hit has to carry it with the event.
   */
  readonly suppressFields: string[];
  /** Component id → its key fields (sorted); empty: keyed by the id. */
  private readonly keyFields = new Map<string, string[]>();
  /** Suppressed single-event rule uid → its suppress route. */
  private readonly suppressRoutes = new Map<string, Route>();

  constructor(detections: readonly Rule[], correlations: readonly CorrelationRule[], alerting: ReadonlySet<string>) {
    const loaded = correlations;
    const byUid = new Map(loaded.map((c) => [c.uid, c]));
    // Union-find over chains.
    const parent = new Map(loaded.map((c) => [c.uid, c.uid]));
    const find = (u: string): string => {
      let r = u;
      while (parent.get(r) !== r) r = parent.get(r)!;
      parent.set(u, r);
      return r;
    };
    for (const c of loaded) {
      for (const r of c.rules) if (byUid.has(r)) parent.set(find(r), find(c.uid));
    }
    this.suppressFields = [...new Set(loaded.flatMap((c) => c.extensions.suppress?.groupBy ?? []))].sort();
    const members = new Map<string, CorrelationRule[]>();
    for (const c of loaded) {
      const root = find(c.uid);
      const list = members.get(root) ?? [];
      list.push(c);
      members.set(root, list);
    }
    for (const list of members.values()) {
      const id = list[0]!.uid;
      for (const c of list) this.componentOf.set(c.uid, id);
      this.keyFields.set(id, componentKey(list, byUid));
    }
    for (const d of detections) {
      if (d.kind !== 'detection') continue;
      const routes: Route[] = [];
      if (alerting.has(d.uid) && d.extensions.suppress) {
        const names = [...(d.extensions.suppress.groupBy ?? [])].sort();
        const readers = names.map(accessorFor);
        const route: Route = {
          id: SUPPRESS_ROUTE,
          key:
            names.length === 0
              ? () => `\u0001${d.uid}`
              : (doc, event) =>
                  keyText(names, (i) => scalarText(readers[i]!(doc) ?? readers[i]!(event as unknown as Doc))),
          fields: names.map((n, i) => [n, (doc: Doc) => readers[i]!(doc)] as [string, Accessor]),
        };
        this.suppressRoutes.set(d.uid, route);
        routes.push(route);
      }
      const seen = new Set<string>();
      for (const c of loaded) {
        if (!c.rules.includes(d.uid)) continue;
        const id = this.componentOf.get(c.uid)!;
        if (seen.has(id)) continue;
        seen.add(id);
        const direct = members.get(find(c.uid))!.filter((m) => m.rules.includes(d.uid));
        const names = this.keyFields.get(id)!;
        const readers = names.map((n) => accessorFor(c.aliases[n]?.[d.uid] ?? n));
        const paths = new Set<string>();
        for (const m of direct) for (const p of fieldsRead(m, d.uid)) paths.add(p);
        routes.push({
          id,
          key: names.length === 0 ? () => `\u0002${id}` : (doc) => keyText(names, (i) => scalarText(readers[i]!(doc))),
          fields: [...paths].map((p) => [p, accessorFor(p)]),
        });
      }
      if (routes.length > 0) this.byDetection.set(d.uid, routes);
    }
  }

  /**
   * The scope within which a response action of this alert is de-duplicated: the key of the
   * state it came from (`Route.key`), so that every engine which owns that key decides alike.
   * Undefined for a single-event rule without `suppress`: its alerts depend on no order and no
   * state, and its actions are always published.
   */
  scopeOf(rule: Rule, firing: Firing | undefined, hit: { doc: Doc; event: AuthEvent }): string | undefined {
    if (rule.kind === 'correlation') {
      const id = this.componentOf.get(rule.uid);
      if (id === undefined) return undefined;
      const names = this.keyFields.get(id)!;
      if (names.length === 0 || !firing) return `\u0002${id}`;
      return keyText(names, (i) => firing.group[names[i]!]);
    }
    // A suppressed rule's key, as its route computes it; none for a rule without suppress.
    return this.suppressRoutes.get(rule.uid)?.key(hit.doc, hit.event);
  }
}

/** `name=value` pairs, NUL-separated; a missing value is its own text, so it still has one place. */
function keyText(names: readonly string[], value: (i: number) => string | undefined): string {
  let out = '';
  for (let i = 0; i < names.length; i++) {
    const v = value(i);
    out += `${i > 0 ? '\u0000' : ''}${names[i]}=${v === undefined ? '\u0003' : v}`;
  }
  return out;
}

/**
 * The fields a component is keyed by: those every correlation of it groups by (and suppresses
 * by, when it names fields; and joins by, for a conversion, whose completions find their
 * attempts by its `field`), read under the same name at every chain link, and read from the
 * same field of a rule by every correlation that refers to that rule.
 */
function componentKey(list: readonly CorrelationRule[], byUid: ReadonlyMap<string, CorrelationRule>): string[] {
  let names = new Set(list[0]!.groupBy);
  for (const c of list) {
    names = new Set(c.groupBy.filter((n) => names.has(n)));
    const s = c.extensions.suppress?.groupBy;
    if (s) names = new Set([...names].filter((n) => s.includes(n)));
    // A completion finds its attempt by the join field, not by the group: only fields in both key it.
    if (c.type === 'conversion') names = new Set([...names].filter((n) => c.field?.includes(n)));
  }
  for (const n of [...names]) {
    const fieldOf = new Map<string, string>();
    for (const c of list) {
      for (const r of c.rules) {
        const field = c.aliases[n]?.[r] ?? n;
        if (byUid.has(r)) {
          if (field !== n) names.delete(n); // a chain link renames it
        } else if ((fieldOf.get(r) ?? field) !== field) names.delete(n);
        else fieldOf.set(r, field);
      }
    }
  }
  return [...names].sort();
}
