import { createAsnEnricher } from './asnEnricher.js';
import type { Enricher } from './enricher.js';
import { createGeoEnricher } from './geoEnricher.js';
import { createPhoneEnricher } from './phoneEnricher.js';

/** The `enrich` section of the configuration. */
export interface EnrichConfig {
  geo: boolean;
  asn: boolean;
  asn_mmdb_path?: string;
}

/**
 * The enrichers the configuration asks for, databases loaded, in the order they run. The phone
 * enricher always runs: it needs no database and costs nothing on events without a number.
 */
export function createEnrichers(config: EnrichConfig): Enricher[] {
  const out: Enricher[] = [];
  if (config.geo) out.push(createGeoEnricher());
  if (config.asn) out.push(createAsnEnricher({ mmdbPath: config.asn_mmdb_path }));
  out.push(createPhoneEnricher());
  return out;
}
