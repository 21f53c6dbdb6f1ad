// Engine-only throughput: the shipped detection pack over realistic traffic, events already
// decoded and enriched in memory, on one core.
import { Engine } from '../dist/engine/engine.js';
import { loadRules } from '../dist/rules/loader.js';
import { fmt, measure } from './harness.js';

export const title = 'Engine with the detection pack (issue 5)';

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PLACES = [
  { country: 'US', city: 'New York', lat: 40.71, lon: -74.0, asn: 7922 },
  { country: 'US', city: 'Chicago', lat: 41.88, lon: -87.63, asn: 7018 },
  { country: 'GB', city: 'London', lat: 51.5, lon: -0.12, asn: 5607 },
  { country: 'DE', city: 'Berlin', lat: 52.52, lon: 13.4, asn: 3320 },
  { country: 'FR', city: 'Paris', lat: 48.86, lon: 2.35, asn: 3215 },
  { country: 'BR', city: 'São Paulo', lat: -23.55, lon: -46.63, asn: 28573 },
  { country: 'IN', city: 'Mumbai', lat: 19.07, lon: 72.88, asn: 55836 },
  { country: 'AU', city: 'Sydney', lat: -33.87, lon: 151.21, asn: 1221 },
];

/**
 * A day-like stream: 20,000 users logging in from a home place (occasionally failing,
 * refreshing tokens, receiving SMS or push codes), with attacks mixed in: credential
 * stuffing from a few IPs, SMS pumping to premium countries, and a travelling account.
 */
export function traffic(n, seed = 1, { users: userCount = 20_000, ips = userCount } = {}) {
  const rnd = mulberry32(seed);
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  // `ips` home addresses shared by the users (households, offices, carrier NAT), all distinct.
  const ipOf = (k) =>
    ips <= 65_536
      ? `${24 + (k % 150)}.${(k >> 8) & 255}.${k & 255}.${1 + (k % 200)}`
      : `${24 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}.${1 + (k % 200)}`;
  const users = Array.from({ length: userCount }, (_, i) => ({
    id: `auth0|${i}`,
    name: `user${i}@example.com`,
    home: PLACES[i % PLACES.length],
    ip: ipOf(i % ips),
    device: `dev-${i}`,
  }));
  const out = [];
  let time = Date.UTC(2026, 5, 1);
  for (let i = 0; i < n; i++) {
    time += 5 + Math.floor(rnd() * 10); // ~100 events/s
    const r = rnd();
    const u = pick(users);
    const base = {
      id: `ev-${i}`,
      time,
      source: 'generic',
      user: { id: u.id, name: u.name, email_domain: 'example.com' },
      ip: u.ip,
      asn: u.home.asn,
      geo: { country: u.home.country, city: u.home.city, lat: u.home.lat, lon: u.home.lon, accuracy_km: 20 },
      session_id: `s-${u.id}-${Math.floor(time / 3_600_000)}`,
      client: { id: 'web', name: 'Web' },
      device_id: u.device,
      user_agent: 'Mozilla/5.0',
    };
    if (r < 0.02) {
      // credential stuffing: one of a few IPs, many users
      out.push({
        ...base,
        type: 'login.failure',
        outcome: 'failure',
        reason: 'Wrong email or password.',
        ip: `185.220.101.${Math.floor(rnd() * 4)}`,
        geo: { country: 'NL', lat: 52.37, lon: 4.9, accuracy_km: 50 },
        asn: 208294,
      });
    } else if (r < 0.025) {
      out.push({
        ...base,
        type: 'mfa.sms.sent',
        outcome: 'success',
        phone: { number: `+88216${Math.floor(rnd() * 1e6)}`, country: pick(['SO', 'TV', 'KI']) },
      });
    } else if (r < 0.6) {
      out.push({ ...base, type: 'login.success', outcome: 'success' });
    } else if (r < 0.7) {
      out.push({ ...base, type: 'login.failure', outcome: 'failure', reason: 'Wrong email or password.' });
    } else if (r < 0.85) {
      out.push({ ...base, type: 'token.refresh.success', outcome: 'success' });
    } else if (r < 0.9) {
      out.push({ ...base, type: 'mfa.sms.sent', outcome: 'success', phone: { number: '+14155552671', country: 'US' } });
    } else if (r < 0.95) {
      out.push({ ...base, type: 'mfa.push.sent', outcome: 'success' });
    } else if (r < 0.97) {
      out.push({ ...base, type: 'mfa.success', outcome: 'success' });
    } else if (r < 0.975) {
      out.push({
        ...base,
        type: 'signup.success',
        outcome: 'success',
        user: { id: `new-${i}`, name: `new${i}@mailinator.com`, email_domain: 'mailinator.com' },
      });
    } else {
      out.push({ ...base, type: 'logout', outcome: 'success' });
    }
  }
  return out;
}

export async function run() {
  const set = loadRules(['detections']);
  if (set.diagnostics.errorCount > 0) throw new Error('the detection pack did not load');
  const events = traffic(300_000);
  let alerts = 0;
  let engine;
  const result = measure(
    () => {
      engine = new Engine(set);
      for (const e of events) alerts += engine.process(e).alerts.length;
      alerts += engine.flush().alerts.length; // what waits for event-time order at the end
    },
    events.length,
    { rounds: 7, warmup: 2 },
  );
  const stats = engine.stats();
  const keys = Object.values(stats.rules).reduce((a, r) => a + r.keys, 0);
  console.log(
    `${set.detections.length} detection rules and ${set.correlations.length} correlations; ${fmt(events.length)} events (20,000 users, ~1 h of event time, 2 % stuffing, 0.5 % SMS pumping); ${fmt(alerts / 9)} alerts per run; ${fmt(keys)} groups tracked at the end of a run\n`,
  );
  console.log('| path | events/s (median) | min | max |');
  console.log('|---|---:|---:|---:|');
  console.log(`| Engine.process, whole pack | ${fmt(result.median)} | ${fmt(result.min)} | ${fmt(result.max)} |`);
}
