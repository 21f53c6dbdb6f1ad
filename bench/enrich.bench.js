// Enrichment: geo (geoip-lite data through the compact geo table) and ASN (offline @ip-location-db/asn) lookups over 100,000
// events whose addresses repeat the way a login stream's do (a few hot addresses, a long tail):
// drawn with Zipf-like weights from 28,000 public addresses (15 % IPv6), of which ~20,000 turn
// up, plus 5 % of events from private addresses. Database load time and memory are measured in fresh child processes so that neither
// database, nor this process's own allocations, skew the other's figures.
import { execFileSync } from 'node:child_process';
import { createAsnEnricher } from '../dist/enrich/asnEnricher.js';
import { createGeoEnricher } from '../dist/enrich/geoEnricher.js';
import { isPublicIp, publicAddress } from '../dist/enrich/ipAddress.js';
import { createNetworkEnricher } from '../dist/enrich/networkEnricher.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, measure } from './harness.js';

export const title = 'Enrichment: geo, ASN and network-kind lookups';

const EVENTS = 100_000;
const POOL = 28_000;

// Real allocations, so that IPv6 lookups hit data rather than unallocated space.
const V6_PREFIXES = [
  '2001:4860',
  '2a00:1450',
  '2606:4700',
  '2a03:2880',
  '2600:1f18',
  '2a01:4f8',
  '2804:14c',
  '2409:8a00',
  '240e:3b7',
  '2a02:26f0',
  '2c0f:fb50',
  '2607:f8b0',
];

function addresses() {
  // mulberry32: a float LCG like rules.bench.js's loses precision and cycles after ~15k draws.
  let seed = 7;
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const hex = () => Math.floor(rnd() * 0x10000).toString(16);
  const pub = new Set();
  while (pub.size < POOL) {
    let ip;
    if (rnd() < 0.15) {
      ip = `${V6_PREFIXES[Math.floor(rnd() * V6_PREFIXES.length)]}:${hex()}:${hex()}::${hex()}`;
    } else {
      const n = Math.floor(rnd() * 2 ** 32);
      ip = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    }
    if (isPublicIp(ip)) pub.add(ip);
  }
  const priv = [];
  for (let i = 0; i < 500; i++) {
    priv.push(
      i % 3 === 0
        ? `10.${i % 256}.${(i * 7) % 256}.${(i * 13) % 256}`
        : i % 3 === 1
          ? `192.168.1.${i % 256}`
          : 'fe80::1',
    );
  }
  // Zipf-like popularity (weight 1/rank^0.85), so a few addresses carry much of the traffic.
  const ranked = [...pub];
  const cumulative = new Float64Array(ranked.length);
  let total = 0;
  ranked.forEach((_, r) => {
    total += 1 / (r + 1) ** 0.85;
    cumulative[r] = total;
  });
  const out = [];
  for (let i = 0; i < EVENTS; i++) {
    if (rnd() < 0.05) {
      out.push(priv[Math.floor(rnd() * priv.length)]);
      continue;
    }
    const x = rnd() * total;
    let lo = 0;
    let hi = ranked.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    out.push(ranked[lo]);
  }
  return out;
}

/** Import time, load time and memory growth of one enricher, in a fresh process. */
function loadFigures(modulePath, factory, args) {
  const script = `
    const mb = (n) => n / 2 ** 20;
    globalThis.gc(); const m0 = process.memoryUsage();
    const t0 = performance.now();
    const mod = await import(${JSON.stringify(new URL(modulePath, import.meta.url).href)});
    const t1 = performance.now();
    const m1 = process.memoryUsage();
    const enricher = mod[${JSON.stringify(factory)}](${JSON.stringify(args)});
    const t2 = performance.now();
    for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
    const m2 = process.memoryUsage();
    console.log(JSON.stringify({
      importMs: t1 - t0, importRss: mb(m1.rss - m0.rss), loadMs: t2 - t1,
      rss: mb(m2.rss - m0.rss), heap: mb(m2.heapUsed - m0.heapUsed), external: mb(m2.external - m0.external),
      keep: typeof enricher.enrich,
    }));`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

export async function run() {
  const geoLoad = loadFigures('../dist/enrich/geoEnricher.js', 'createGeoEnricher', {});
  const asnLoad = loadFigures('../dist/enrich/asnEnricher.js', 'createAsnEnricher', {});
  const mb = (n) => n.toFixed(1);
  console.log('Loading (fresh process each; memory is growth after GC):\n');
  console.log('| database | module import ms | load ms | RSS MB | V8 heap MB | off-heap (external) MB |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, f] of [
    ['geo table (geoip-lite GeoLite2 City, cached)', geoLoad],
    ['ASN tables (@ip-location-db/asn, cached)', asnLoad],
  ]) {
    console.log(
      `| ${name} | ${f.importMs.toFixed(0)} | ${f.loadMs.toFixed(0)} | ${mb(f.rss)} | ${mb(f.heap)} | ${mb(f.external)} |`,
    );
  }

  const ips = addresses();
  const events = ips.map((ip, i) => ({ id: `e${i}`, time: i, source: 'generic', type: 'login.success', ip }));
  const distinct = new Set(ips).size;
  console.log(
    `\n${fmt(events.length)} events, ${fmt(distinct)} distinct addresses, ${fmt(ips.filter((ip) => ip.includes(':')).length)} IPv6, ${fmt(ips.filter((ip) => !isPublicIp(ip)).length)} private\n`,
  );

  const rows = [];
  const time = (label, fn, note = '') => {
    const r = measure(fn, events.length, { rounds: 7, warmup: 2 });
    rows.push([label, r, note]);
  };

  time('address check only (`publicAddress`)', () => {
    for (const e of events) publicAddress(e.ip);
  });

  for (const cacheSize of [0, 10_000, 50_000]) {
    const geo = createGeoEnricher({ cacheSize });
    time(
      `geo, ${cacheSize === 0 ? 'no cache' : `cache ${fmt(cacheSize)}`}${cacheSize === 10_000 ? ' (default)' : ''}`,
      () => {
        for (const e of events) {
          e.geo = undefined;
          geo.enrich(e);
        }
      },
    );
    if (cacheSize > 0) {
      const { hits, misses } = geo.stats;
      rows[rows.length - 1][2] = `hit rate ${((100 * hits) / (hits + misses)).toFixed(0)} %`;
    }
  }

  const asn = createAsnEnricher();
  time('ASN, offline CSV tables', () => {
    for (const e of events) {
      e.asn = undefined;
      e.as_org = undefined;
      asn.enrich(e);
    }
  });

  // Network kind after ASN, as configured: a Tor list the size of the Tor Project's (about
  // 1,500 exits, single addresses), a VPN list of 10,000 blocks, and the shipped hosting ASNs.
  const dir = mkdtempSync(join(tmpdir(), 'aw-bench-net-'));
  const octet = (i, k) => (i * k) % 250;
  const tor = Array.from({ length: 1500 }, (_, i) => `${185 + (i % 5)}.${octet(i, 7)}.${octet(i, 13)}.${octet(i, 31)}`);
  const vpn = Array.from(
    { length: 10_000 },
    (_, i) => `${20 + (i % 150)}.${octet(i, 11)}.${octet(i, 3)}.0/24 vpn${i % 40}`,
  );
  writeFileSync(join(dir, 'tor.txt'), tor.join('\n'));
  writeFileSync(join(dir, 'vpn.txt'), vpn.join('\n'));
  const network = createNetworkEnricher({ lists: { tor: [join(dir, 'tor.txt')], proxy: [join(dir, 'vpn.txt')] } });
  time('network kind (Tor 1,500 + VPN 10,000 blocks + hosting ASNs)', () => {
    for (const e of events) {
      e.network = undefined;
      network.enrich(e);
    }
  });
  rmSync(dir, { recursive: true, force: true });
  const kinds = {};
  for (const e of events) if (e.network) kinds[e.network.kind] = (kinds[e.network.kind] ?? 0) + 1;
  rows[rows.length - 1][2] = Object.entries(kinds)
    .map(([k, n]) => `${k} ${((100 * n) / events.length).toFixed(1)} %`)
    .join(', ');

  let located = 0;
  let numbered = 0;
  for (const e of events) {
    if (e.geo?.country) located++;
    if (e.asn !== undefined) numbered++;
  }

  console.log('| lookup | events/s (median) | min | max | note |');
  console.log('|---|---:|---:|---:|---|');
  for (const [label, r, note] of rows) {
    console.log(`| ${label} | ${fmt(r.median)} | ${fmt(r.min)} | ${fmt(r.max)} | ${note} |`);
  }
  console.log(
    `\nanswered: geo ${((100 * located) / events.length).toFixed(1)} % of events, ASN ${((100 * numbered) / events.length).toFixed(1)} %`,
  );
}
