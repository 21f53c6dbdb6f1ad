import type { AuthEvent } from '../events/authEvent.js';

/**
 * Adds fields to a decoded event before the rules see it.
 *
 * Contract: an enricher fills only what the event lacks (what the source said wins), never
 * throws on odd input (an unparsable or private address simply gets nothing), and is fast
 * enough for the hot path: it runs once per event, synchronously. Databases are loaded when
 * the enricher is built, not per event.
 */
export interface Enricher {
  readonly name: string;
  enrich(event: AuthEvent): void;
}

/** Runs enrichers in order. */
export function enrichAll(enrichers: readonly Enricher[], event: AuthEvent): void {
  for (const e of enrichers) e.enrich(event);
}
