// Decode + enrich throughput: realistic Auth0, Okta and canonical records as bytes (what a
// Kafka message or NDJSON line holds) through the record decoder, then geo and ASN
// enrichment, on one core.
import { Buffer } from 'node:buffer';
import { createAsnEnricher } from '../dist/enrich/asnEnricher.js';
import { createGeoEnricher } from '../dist/enrich/geoEnricher.js';
import { Ingest } from '../dist/events/ingest.js';
import { fmt, measure } from './harness.js';

export const title = 'Decode and enrich (issue 4)';

const NOW = Date.UTC(2026, 10, 24);

function records(n) {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  // 20,000 distinct public addresses, reused the way a login stream reuses them (a few hot).
  const ips = Array.from(
    { length: 20_000 },
    () =>
      `${[24, 31, 45, 62, 81, 92, 104, 151, 185, 203][Math.floor(rnd() * 10)]}.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}.${1 + Math.floor(rnd() * 250)}`,
  );
  const ip = () => (rnd() < 0.05 ? `10.0.${Math.floor(rnd() * 255)}.7` : ips[Math.floor(rnd() ** 2 * ips.length)]);
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = new Date(NOW - 86_400_000 + i * 100).toISOString();
    const user = `user${Math.floor(rnd() * 5000)}@example.com`;
    const r = rnd();
    let rec;
    if (r < 0.5) {
      const type = ['s', 's', 's', 'f', 'fp', 'gd_send_sms', 'sertft', 'ss'][Math.floor(rnd() * 8)];
      rec = {
        log_id: `900200${i}`,
        data: {
          date: t,
          type,
          description: type === 'fp' ? 'Wrong email or password.' : '',
          connection: 'Username-Password-Authentication',
          connection_id: 'con_abc',
          client_id: 'AaiyAPdpYdesoKnqjj8HJqRn4T5titww',
          client_name: 'Web',
          ip: ip(),
          user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36',
          details: { prompts: [], completedAt: NOW, elapsedTime: 120, session_id: `s${i % 3000}` },
          hostname: 'acme.eu.auth0.com',
          user_id: `auth0|${user}`,
          user_name: user,
          strategy: 'auth0',
          strategy_type: 'database',
        },
      };
    } else if (r < 0.8) {
      rec = {
        uuid: `okta-${i}`,
        published: t,
        eventType: ['user.session.start', 'user.authentication.auth_via_mfa', 'system.push.send_factor_verify_push'][
          Math.floor(rnd() * 3)
        ],
        outcome: { result: rnd() < 0.8 ? 'SUCCESS' : 'FAILURE', reason: null },
        actor: { id: `00u${i % 5000}`, type: 'User', alternateId: user, displayName: 'A User' },
        client: {
          userAgent: { rawUserAgent: 'Mozilla/5.0 (Macintosh) Safari/605.1.15' },
          ipAddress: ip(),
          geographicalContext: null,
        },
        authenticationContext: { externalSessionId: `102${i % 3000}` },
        securityContext: { asNumber: null, asOrg: null },
        debugContext: { debugData: { requestId: 'r', requestUri: '/api/v1/authn' } },
      };
    } else {
      rec = {
        id: `c${i}`,
        time: NOW - 86_400_000 + i * 100,
        type: rnd() < 0.7 ? 'login.success' : 'login.failure',
        user: { id: `u${i % 5000}`, name: user },
        ip: ip(),
        user_agent: 'curl/8.5.0',
      };
    }
    out.push(Buffer.from(JSON.stringify(rec)));
  }
  return out;
}

function heapMb() {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

export async function run() {
  const recs = records(100_000);
  const bytes = recs.reduce((a, b) => a + b.length, 0);

  const plain = new Ingest('bench', { now: () => NOW });
  const decodeOnly = measure(() => {
    for (const b of recs) plain.process(b, {});
  }, recs.length);

  let t0 = process.hrtime.bigint();
  let h0 = heapMb();
  const geo = createGeoEnricher();
  const geoLoad = { ms: Number(process.hrtime.bigint() - t0) / 1e6, mb: heapMb() - h0 };
  t0 = process.hrtime.bigint();
  h0 = heapMb();
  const asn = createAsnEnricher();
  const asnLoad = { ms: Number(process.hrtime.bigint() - t0) / 1e6, mb: heapMb() - h0 };

  const enriched = new Ingest('bench', { now: () => NOW, enrichers: [geo, asn] });
  const full = measure(() => {
    for (const b of recs) enriched.process(b, {});
  }, recs.length);

  console.log(
    `${fmt(recs.length)} records (50 % Auth0 log-stream, 30 % Okta, 20 % canonical), ${Math.round(bytes / recs.length)} bytes each on average; 20,000 distinct public addresses, 5 % private\n`,
  );
  console.log('| path | records/s (median) | min | max |');
  console.log('|---|---:|---:|---:|');
  console.log(
    `| decode + schema check | ${fmt(decodeOnly.median)} | ${fmt(decodeOnly.min)} | ${fmt(decodeOnly.max)} |`,
  );
  console.log(`| decode + geo + ASN enrichment | ${fmt(full.median)} | ${fmt(full.min)} | ${fmt(full.max)} |`);
  console.log(
    `\nstart-up: geo table ${fmt(geoLoad.ms)} ms (+${fmt(geoLoad.mb)} MB heap; its arrays are off-heap), ASN database ${fmt(asnLoad.ms)} ms (+${fmt(asnLoad.mb)} MB heap)`,
  );
  console.log(`geo cache after the runs: ${fmt(geo.stats.hits)} hits, ${fmt(geo.stats.misses)} misses`);
}
