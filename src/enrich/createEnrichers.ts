import { createAsnEnricher } from './asnEnricher.js';
import type { Enricher } from './enricher.js';
import { createGeoEnricher } from './geoEnricher.js';
import { createNetworkEnricher } from './networkEnricher.js';
import { createPhoneEnricher } from './phoneEnricher.js';
import { parseTimespan } from '../time/duration.js';

/** The `enrich` section of the configuration. */
export interface EnrichConfig {
  geo: boolean;
  asn: boolean;
  asn_mmdb_path?: string;
  networks?: boolean;
  tor_exits?: string[];
  proxy_networks?: string[];
  hosting_networks?: string[];
  network_reload?: string;
}

/** Where enrichment reports its list files: loaded (with lines it skipped) or unreadable. */
export interface EnrichLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

/**
 * The enrichers the configuration asks for, databases loaded, in the order they run. The phone
 * enricher always runs: it needs no database and costs nothing on events without a number.
 */
export function createEnrichers(config: EnrichConfig, log?: EnrichLog): Enricher[] {
  const out: Enricher[] = [];
  if (config.geo) out.push(createGeoEnricher());
  if (config.asn) out.push(createAsnEnricher({ mmdbPath: config.asn_mmdb_path }));
  if (config.networks !== false)
    out.push(
      createNetworkEnricher({
        lists: { tor: config.tor_exits, proxy: config.proxy_networks, hosting: config.hosting_networks },
        reloadMs: parseTimespan(config.network_reload ?? '1m') ?? 60_000,
        onLoad: ({ path, kind, entries, problems }) => {
          if (problems.length > 0)
            log?.warn(
              { path, kind, entries, skipped: problems },
              'A network list has lines that are not addresses, CIDR blocks or AS numbers; they were skipped.',
            );
          else log?.info({ path, kind, entries }, 'Network list loaded.');
        },
        onError: ({ path, kind, error }) =>
          log?.warn({ path, kind, error }, 'A network list could not be re-read; its last good copy stays in use.'),
      }),
    );
  out.push(createPhoneEnricher());
  return out;
}
