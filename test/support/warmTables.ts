import { loadIpLocationDbAsn } from '../../src/enrich/asnEnricher.js';
import { loadGeoTable } from '../../src/enrich/geoTable.js';

/**
 * Global setup of both test projects: builds the geo and ASN tables into their cache once,
 * before any worker starts, as the first start after an install does. Otherwise every test
 * file and `authwatch` process that enriches, all starting together on a fresh clone, would
 * build them at once (seconds each, on two cores).
 */
export default function setup(): void {
  loadGeoTable();
  loadIpLocationDbAsn();
}
