import haversine from 'haversine-distance';
import { getCountryCallingCode, type CountryCode } from 'libphonenumber-js/min';
import { createAsnEnricher, type AsnEnricher } from '../enrich/asnEnricher.js';
import { createGeoEnricher, type GeoEnricher } from '../enrich/geoEnricher.js';

/**
 * Seeded auth traffic of a tenant: users with a home, a device, an MFA method and sessions
 * that go on with refresh tokens and silent authentication (on a mobile carrier, from
 * addresses that change within its network), a few who fail to type their password, a few who
 * fly abroad and stay there, and attacks mixed in on request, each with
 * its ground truth. Nothing depends on the clock or the host: the same options give the same
 * events, so `simulate` with the same seed writes the same bytes.
 */

/** One event in the simulator's own terms; `formats.ts` writes it as a source's record. */
export interface SimEvent {
  t: number;
  type: SimType;
  outcome: 'success' | 'failure';
  user: { id?: string; name: string };
  ip: string;
  client: string;
  session?: string;
  place: Place;
  userAgent: string;
  device?: string;
  phone?: string;
  reason?: string;
}

export type SimType =
  | 'login.success'
  | 'login.failure'
  | 'logout'
  | 'signup.success'
  | 'mfa.sms.sent'
  | 'mfa.push.sent'
  | 'mfa.push.rejected'
  | 'mfa.success'
  | 'token.refresh.success'
  | 'token.refresh.reuse'
  | 'session.use.success';

export interface Place {
  country: string;
  city: string;
  lat: number;
  lon: number;
}

/** What an injected attack did, for checking detections against it. */
export interface GroundTruth {
  kind: AttackKind;
  from: string;
  to: string;
  ips: string[];
  users: string[];
  sessions: string[];
  /** The destination country of pumped messages. */
  country?: string;
}

export const ATTACK_KINDS = [
  'credential_stuffing',
  'distributed_stuffing',
  'stuffing_success',
  'brute_force',
  'password_spray',
  'sms_pumping',
  'mfa_fatigue',
  'impossible_travel',
  'session_hijack',
  'refresh_token_reuse',
  'disposable_signup',
  'signup_surge',
] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

/** One attack to inject, as a scenario file or `--attack` asks for it. */
export interface AttackSpec {
  kind: AttackKind;
  /** When it begins, epoch ms; by default the attacks are spread over the stream. */
  at?: number;
  /** How many attempts, messages, pushes, targets or signups (see ATTACK_SHAPES). */
  size?: number;
  /** The time between two of them, ms. */
  every?: number;
  /** sms_pumping: the country of the destination numbers (ISO code). */
  country?: string;
}

/**
 * What `size` and `every` mean for each kind, and their defaults: the shape of the attack the
 * shipped detections are tuned for. A kind without `size` is one fixed act.
 */
export const ATTACK_SHAPES: Readonly<Record<AttackKind, { size?: [number, string]; every: [number, string] }>> = {
  credential_stuffing: { size: [40, 'failed logins, one per leaked account'], every: [4_000, 'between attempts'] },
  distributed_stuffing: {
    size: [80, 'failed logins, each from another address'],
    every: [2_500, 'between attempts'],
  },
  stuffing_success: {
    size: [40, 'failed logins before two succeed'],
    every: [4_000, 'between attempts'],
  },
  brute_force: { size: [15, 'wrong passwords for one user'], every: [15_000, 'between guesses'] },
  password_spray: { size: [30, 'users tried once each'], every: [90_000, 'between users'] },
  sms_pumping: { size: [40, 'SMS sent to numbers of one country'], every: [20_000, 'between messages'] },
  mfa_fatigue: { size: [8, 'pushes, all but the last rejected'], every: [40_000, 'between pushes'] },
  impossible_travel: { every: [15 * 60_000, 'between the login at home and the one far away'] },
  session_hijack: { every: [30 * 60_000, 'between the login and the stolen session’s use'] },
  refresh_token_reuse: { size: [1, 'reuses of a rotated refresh token'], every: [60_000, 'between reuses'] },
  disposable_signup: { size: [1, 'signups with a disposable address'], every: [60_000, 'between signups'] },
  signup_surge: { size: [60, 'signups'], every: [8_000, 'between signups'] },
};

export interface SimulateOptions {
  seed: number;
  users: number;
  hours: number;
  /** Event time of the start, epoch ms. */
  start: number;
  attacks: readonly (AttackKind | AttackSpec)[];
}

export const DEFAULT_START = Date.UTC(2026, 10, 2, 0, 0, 0);

/** Where users live: country, a city, its place, the calling code and share of users. */
const HOMES: ReadonlyArray<readonly [string, string, number, number, string, number]> = [
  ['US', 'Chicago', 41.878, -87.63, '1312555', 22],
  ['GB', 'London', 51.507, -0.128, '447700', 8],
  ['DE', 'Berlin', 52.52, 13.405, '4915', 7],
  ['FR', 'Paris', 48.857, 2.352, '336', 6],
  ['IN', 'Bengaluru', 12.972, 77.594, '9198', 9],
  ['BR', 'São Paulo', -23.55, -46.633, '5511', 7],
  ['NG', 'Lagos', 6.524, 3.379, '234803', 4],
  ['JP', 'Tokyo', 35.676, 139.65, '8190', 5],
  ['MX', 'Mexico City', 19.433, -99.133, '5255', 5],
  ['ID', 'Jakarta', -6.208, 106.846, '62812', 4],
  ['PH', 'Manila', 14.6, 120.984, '63917', 3],
  ['KE', 'Nairobi', -1.286, 36.817, '254712', 2],
  ['PL', 'Warsaw', 52.23, 21.012, '48601', 3],
  ['TR', 'Istanbul', 41.008, 28.978, '90532', 3],
  ['AU', 'Sydney', -33.868, 151.209, '61412', 3],
  ['CA', 'Toronto', 43.653, -79.383, '1416555', 4],
  ['ZA', 'Johannesburg', -26.204, 28.047, '2782', 2],
  ['VN', 'Hanoi', 21.028, 105.834, '8491', 3],
];
const APPS = ['web', 'ios', 'android'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
];
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** mulberry32: small, fast and seedable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let geo: GeoEnricher | undefined;
let asnDb: AsnEnricher | undefined;

/**
 * An address geo enrichment places in `country` and the ASN data knows the network of, by a seeded
 * walk over the address space, so the places the records state and the ones enrichment finds
 * agree, and a session's network can be followed.
 */
export function addressIn(country: string, rnd: () => number): string {
  geo ??= createGeoEnricher({ cacheSize: 0 });
  for (let i = 0; i < 5_000_000; i++) {
    const ip = `${1 + Math.floor(rnd() * 222)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`;
    if (geo.lookup(ip)?.country === country && (asnDb ??= createAsnEnricher()).lookup(ip) !== null) return ip;
  }
  throw new Error(`no address found in ${country}`);
}

/**
 * Another address of the network `ip` is in (same /16, same ASN), found by a seeded walk: what
 * a phone on a mobile carrier gets as it moves between cells. The same address when none is
 * found.
 */
export function sameNetwork(ip: string, rnd: () => number): string {
  asnDb ??= createAsnEnricher();
  const asn = asnDb.lookup(ip)?.asn;
  if (asn === undefined) return ip;
  const [a, b] = ip.split('.');
  for (let i = 0; i < 200; i++) {
    const other = `${a}.${b}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`;
    if (other !== ip && asnDb.lookup(other)?.asn === asn) return other;
  }
  return ip;
}

interface User {
  id: string;
  name: string;
  home: Place;
  ip: string;
  device: string;
  agent: string;
  app: string;
  mfa: 'sms' | 'push' | 'none';
  phone?: string;
  /** On a mobile carrier: the address changes within its network as the session goes on. */
  mobile: boolean;
}

/** Events in time order and the ground truth of every attack injected. */
export function simulate(options: SimulateOptions): { events: SimEvent[]; truth: GroundTruth[] } {
  const rnd = prng(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const events: SimEvent[] = [];
  const end = options.start + options.hours * HOUR;
  const totalWeight = HOMES.reduce((s, h) => s + h[5], 0);
  const homeOf = (): (typeof HOMES)[number] => {
    let r = rnd() * totalWeight;
    for (const h of HOMES) if ((r -= h[5]) < 0) return h;
    return HOMES[0]!;
  };
  const addresses = new Map<string, string[]>();
  const addressFor = (country: string) => {
    const list = addresses.get(country) ?? [];
    addresses.set(country, list);
    // A few networks per country, shared by neighbours, as ISPs are.
    if (list.length < 12 || rnd() < 0.05) list.push(addressIn(country, rnd));
    return pick(list);
  };

  const users: User[] = [];
  for (let u = 0; u < options.users; u++) {
    const [country, city, lat, lon, dial] = homeOf();
    const abroad = rnd() < 0.05 ? homeOf() : undefined; // a phone from the country they came from
    const mfaRoll = rnd();
    const mfa = mfaRoll < 0.4 ? 'sms' : mfaRoll < 0.7 ? 'push' : 'none';
    users.push({
      id: `auth0|${(0x5f000000 + u).toString(16)}`,
      name: `${pick(['alex', 'sam', 'maria', 'li', 'omar', 'ana', 'kofi', 'yuki', 'ivan', 'priya'])}.${u}@example.com`,
      home: { country, city, lat, lon },
      ip: addressFor(country),
      device: `dev-${(u * 2654435761) >>> 0}`,
      agent: pick(AGENTS),
      app: pick(APPS),
      mfa,
      mobile: rnd() < 0.25,
      ...(mfa === 'sms' ? { phone: `+${(abroad ?? [0, 0, 0, 0, dial])[4]}${String(100_000 + u).slice(-6)}` } : {}),
    });
  }

  const flyers = new Set(users.filter(() => rnd() < 0.02).map((u) => u.id));
  let sessions = 0;
  for (const user of users) {
    let t = options.start + Math.floor(rnd() * 6 * HOUR);
    let place = user.home;
    let ip = user.ip;
    let flown = false;
    while (t < end) {
      // A real flight: the user departs, lands far away at a plausible speed, and stays.
      if (flyers.has(user.id) && !flown && t > options.start + options.hours * HOUR * 0.3) {
        const [country, city, lat, lon] = pick(HOMES.filter((h) => h[0] !== user.home.country));
        const km = haversineKm(place, { country, city, lat, lon });
        t += Math.ceil((km / 800) * HOUR) + 2 * HOUR;
        place = { country, city, lat, lon };
        ip = addressFor(country);
        flown = true;
        if (t >= end) break;
      }
      const session = `sess-${options.seed}-${++sessions}`;
      const at = (dt: number, e: Omit<SimEvent, 't' | 'user' | 'ip' | 'client' | 'place' | 'userAgent' | 'device'>) => {
        t += dt;
        events.push({
          t,
          user: { id: user.id, name: user.name },
          ip,
          client: user.app,
          place,
          userAgent: user.agent,
          device: user.device,
          ...e,
        });
      };
      // Typos and forgotten passwords.
      if (rnd() < 0.08) {
        const typos = 1 + Math.floor(rnd() * 3);
        for (let i = 0; i < typos; i++)
          at(5_000 + Math.floor(rnd() * 20_000), {
            type: 'login.failure',
            outcome: 'failure',
            reason: 'Wrong password.',
          });
      }
      if (user.mfa === 'sms') {
        at(3_000, { type: 'mfa.sms.sent', outcome: 'success', phone: user.phone! });
        if (rnd() < 0.93) at(20_000 + Math.floor(rnd() * 60_000), { type: 'mfa.success', outcome: 'success' });
      } else if (user.mfa === 'push') {
        at(3_000, { type: 'mfa.push.sent', outcome: 'success' });
        at(8_000 + Math.floor(rnd() * 20_000), { type: 'mfa.success', outcome: 'success' });
      }
      at(2_000, { type: 'login.success', outcome: 'success', session });
      // The session goes on: refresh tokens and silent authentication from the same place.
      const uses = Math.floor(rnd() * 8);
      for (let i = 0; i < uses; i++) {
        if (user.mobile) ip = sameNetwork(ip, rnd);
        at(20 * MINUTE + Math.floor(rnd() * 40 * MINUTE), {
          type: rnd() < 0.6 ? 'token.refresh.success' : 'session.use.success',
          outcome: 'success',
          session,
        });
      }
      if (rnd() < 0.3) at(5 * MINUTE, { type: 'logout', outcome: 'success', session });
      ip = place === user.home ? user.ip : ip;
      t += 4 * HOUR + Math.floor(rnd() * 20 * HOUR);
    }
  }

  const truth: GroundTruth[] = [];
  const span = Math.max(1, options.hours * HOUR - 3 * HOUR);
  const specs = options.attacks.map((a) => (typeof a === 'string' ? { kind: a } : a));
  const spread = specs.filter((a) => a.at === undefined);
  specs.forEach((spec, i) => {
    // Unplaced ones are spread over the stream, clear of its last hours so each completes inside it.
    const t0 = spec.at ?? options.start + HOUR + Math.floor(((spread.indexOf(spec) + 0.5) / spread.length) * span);
    truth.push(inject(spec, t0, { rnd, pick, users, events, addressFor, seed: options.seed, n: i }));
  });

  events.sort((a, b) => a.t - b.t);
  // One millisecond apart at least, so the order of the records is the order of their times.
  for (let i = 1; i < events.length; i++) if (events[i]!.t <= events[i - 1]!.t) events[i]!.t = events[i - 1]!.t + 1;
  return { events: events.filter((e) => e.t < end), truth };
}

interface InjectContext {
  rnd: () => number;
  pick: <T>(list: readonly T[]) => T;
  users: readonly User[];
  events: SimEvent[];
  addressFor: (country: string) => string;
  seed: number;
  /** The attack's place in the scenario, so two attacks of a kind name different accounts. */
  n: number;
}

/** A hosting provider's address (the networks attacks come from). */
const HOSTING = ['185.220.101.', '45.155.205.', '193.32.162.', '104.244.72.', '209.141.45.'];

function inject(spec: AttackSpec, t0: number, c: InjectContext): GroundTruth {
  const { kind } = spec;
  const shape = ATTACK_SHAPES[kind];
  const size = spec.size ?? shape.size?.[0] ?? 1;
  const every = spec.every ?? shape.every[0];
  const tag = `${c.seed}.${c.n}`;
  const attackerIp = () => `${c.pick(HOSTING)}${10 + Math.floor(c.rnd() * 200)}`;
  const bot = {
    place: { country: 'NL', city: 'Amsterdam', lat: 52.37, lon: 4.9 },
    userAgent: 'python-requests/2.32.3',
  };
  const ips = new Set<string>();
  const names = new Set<string>();
  const sessionsUsed = new Set<string>();
  let last = t0;
  const add = (e: SimEvent) => {
    c.events.push(e);
    ips.add(e.ip);
    names.add(e.user.name);
    if (e.session) sessionsUsed.add(e.session);
    last = Math.max(last, e.t);
  };
  const victim = () => c.pick(c.users);
  const failure = (t: number, name: string, ip: string, client = 'web'): SimEvent => ({
    t,
    type: 'login.failure',
    outcome: 'failure',
    user: { name },
    ip,
    client,
    ...bot,
    reason: 'Wrong email or password.',
  });
  let country: string | undefined;

  switch (kind) {
    case 'credential_stuffing':
    case 'stuffing_success': {
      const ip = attackerIp();
      for (let i = 0; i < size; i++) add(failure(t0 + i * every, `leaked${i}.${tag}@mailbox.example`, ip));
      if (kind === 'stuffing_success') {
        for (let i = 0; i < 2; i++) {
          const u = victim();
          add({
            ...failure(t0 + size * every + 10_000 + i * 2_000, u.name, ip),
            type: 'login.success',
            outcome: 'success',
            user: { id: u.id, name: u.name },
            session: `stolen-${tag}-${i}`,
          });
        }
      }
      break;
    }
    case 'distributed_stuffing':
      for (let i = 0; i < size; i++) add(failure(t0 + i * every, `combo${i}.${tag}@mailbox.example`, attackerIp()));
      break;
    case 'brute_force': {
      const u = victim();
      const ip = attackerIp();
      for (let i = 0; i < size; i++) add({ ...failure(t0 + i * every, u.name, ip), user: { id: u.id, name: u.name } });
      break;
    }
    case 'password_spray': {
      const ip = attackerIp();
      const targets = shuffled(c.users, c.rnd).slice(0, size);
      targets.forEach((u, i) =>
        add({ ...failure(t0 + i * every, u.name, ip), user: { id: u.id, name: u.name }, reason: 'Wrong password.' }),
      );
      break;
    }
    case 'sms_pumping': {
      country = spec.country ?? 'UZ';
      const code = getCountryCallingCode(country as CountryCode);
      for (let i = 0; i < size; i++)
        add({
          t: t0 + i * every,
          type: 'mfa.sms.sent',
          outcome: 'success',
          user: { id: `auth0|pump${tag}x${i}`, name: `pump${i}.${tag}@mailbox.example` },
          ip: `203.0.113.${10 + (i % 20)}`,
          client: 'android',
          ...bot,
          phone: `+${code}90${String(1_000_000 + i)}`,
        });
      break;
    }
    case 'mfa_fatigue': {
      const u = victim();
      for (let i = 0; i < size; i++) {
        const base = { user: { id: u.id, name: u.name }, ip: u.ip, client: u.app, place: u.home, userAgent: u.agent };
        const accepted = i === size - 1;
        add({ t: t0 + i * every, type: 'mfa.push.sent', outcome: 'success', ...base });
        add({
          t: t0 + i * every + Math.min(15_000, every / 2),
          type: accepted ? 'mfa.success' : 'mfa.push.rejected',
          outcome: accepted ? 'success' : 'failure',
          ...base,
        });
      }
      break;
    }
    case 'impossible_travel': {
      const u = victim();
      const far = HOMES.find((h) => haversineKm(u.home, { country: h[0], city: h[1], lat: h[2], lon: h[3] }) > 5000)!;
      const base = {
        type: 'login.success' as const,
        outcome: 'success' as const,
        user: { id: u.id, name: u.name },
        client: u.app,
        userAgent: u.agent,
      };
      add({ ...base, t: t0, ip: u.ip, place: u.home, session: `travel-${tag}-a` });
      add({
        ...base,
        t: t0 + every,
        ip: c.addressFor(far[0]),
        place: { country: far[0], city: far[1], lat: far[2], lon: far[3] },
        session: `travel-${tag}-b`,
      });
      break;
    }
    case 'session_hijack': {
      const u = victim();
      const session = `hijacked-${tag}`;
      const base = { user: { id: u.id, name: u.name }, client: u.app, session, outcome: 'success' as const };
      add({ ...base, t: t0, type: 'login.success', ip: u.ip, place: u.home, userAgent: u.agent });
      add({ ...base, t: t0 + every, type: 'session.use.success', ip: attackerIp(), ...bot });
      break;
    }
    case 'refresh_token_reuse': {
      const u = victim();
      const ip = attackerIp();
      for (let i = 0; i < size; i++)
        add({
          t: t0 + i * every,
          type: 'token.refresh.reuse',
          outcome: 'failure',
          user: { id: u.id, name: u.name },
          ip,
          client: u.app,
          ...bot,
          session: `reuse-${tag}`,
        });
      break;
    }
    case 'disposable_signup':
    case 'signup_surge': {
      const disposable = kind === 'disposable_signup';
      for (let i = 0; i < size; i++)
        add({
          t: t0 + i * every,
          type: 'signup.success',
          outcome: 'success',
          user: disposable
            ? { id: `auth0|new${tag}x${i}`, name: `promo${i}.${tag}@mailinator.com` }
            : { id: `auth0|farm${tag}x${i}`, name: `farm${i}.${tag}@mailbox.example` },
          ip: attackerIp(),
          client: 'web',
          ...bot,
        });
      break;
    }
  }
  return {
    kind,
    from: new Date(t0).toISOString(),
    to: new Date(last).toISOString(),
    ips: [...ips].sort(),
    users: [...names].sort(),
    sessions: [...sessionsUsed].sort(),
    ...(country ? { country } : {}),
  };
}

function haversineKm(a: Place, b: Place): number {
  return haversine(a, b) / 1000;
}

/** A seeded Fisher-Yates shuffle, into a new array. */
function shuffled<T>(list: readonly T[], rnd: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
