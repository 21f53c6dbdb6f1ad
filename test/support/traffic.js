// Seeded auth traffic for tests and benchmarks: canonical events in event-time order, one
// millisecond apart at least (so the order of any two events is never a tie), with attacks
// mixed in and, on request, malformed records. Plain JavaScript so that `bench/` can use it.

/** @typedef {{ kind: string, key: string, from: number, to: number }} Attack */

/** A small, fast, seedable PRNG (mulberry32). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Public addresses with a known country in geoip-lite's data: homes in Sweden and Britain, an
// attacker network in Germany, a far place in Australia.
const HOME_NETS = ['89.160.20.', '81.2.69.'];
const ATTACK_NET = '185.220.101.';
const FAR_IP = '1.128.0.1';

/**
 * @param {object} options
 * @param {number} [options.seed]
 * @param {number} options.events how many records in all (attacks included)
 * @param {number} [options.start] event time of the first, epoch ms
 * @param {number} [options.stepMs] mean time between events (at least 1 ms apart)
 * @param {number} [options.users]
 * @param {number} [options.attacks] how many attacks of each kind
 * @param {number} [options.malformed] share of malformed records (0..1)
 * @returns {{ lines: string[], attacks: Attack[] }}
 */
export function authTraffic({
  seed = 1,
  events,
  start = Date.UTC(2026, 10, 1),
  stepMs = 20,
  users = 2000,
  attacks = 3,
  malformed = 0,
}) {
  const rnd = prng(seed);
  const pick = (n) => Math.floor(rnd() * n);
  const userName = (u) => `user${u}@corp.example`;
  const homeIp = (u) => `${HOME_NETS[u % HOME_NETS.length]}${1 + (u % 200)}`;

  // Attack events are planned first, at positions spread over the stream.
  /** @type {Map<number, object[]>} */
  const planned = new Map();
  const plan = (at, event) => {
    const list = planned.get(at) ?? [];
    list.push(event);
    planned.set(at, list);
  };
  /** @type {Attack[]} */
  const truth = [];
  const span = Math.max(1, events - 200);
  for (let k = 0; k < attacks; k++) {
    const base = (n) => Math.floor(((k + n) / (attacks + 1)) * span);
    // Credential stuffing: one address fails for 12 accounts, then logs into one.
    const ip = `${ATTACK_NET}${10 + k}`;
    const s0 = base(0.1);
    for (let i = 0; i < 12; i++)
      plan(s0 + i * 3, {
        type: 'login.failure',
        user: { name: `victim${k}-${i}@corp.example` },
        ip,
        reason: 'wrong_password',
      });
    plan(s0 + 40, { type: 'login.success', user: { name: `victim${k}-3@corp.example`, id: `victim${k}-3` }, ip });
    truth.push({ kind: 'credential_stuffing', key: ip, from: s0, to: s0 + 40 });
    // Brute force: 11 failures on one account from rotating addresses.
    const victim = `target${k}@corp.example`;
    const b0 = base(0.3);
    for (let i = 0; i < 11; i++)
      plan(b0 + i * 2, { type: 'login.failure', user: { name: victim }, ip: `${ATTACK_NET}${100 + i}` });
    truth.push({ kind: 'brute_force', key: victim, from: b0, to: b0 + 22 });
    // MFA push bombing: 9 pushes to one user.
    const pushed = `pushed${k}`;
    const m0 = base(0.5);
    for (let i = 0; i < 9; i++)
      plan(m0 + i * 2, { type: 'mfa.push.sent', user: { id: pushed, name: `${pushed}@corp.example` }, ip: homeIp(k) });
    truth.push({ kind: 'mfa_push_bombing', key: pushed, from: m0, to: m0 + 18 });
    // Impossible travel: a login at home, then one from the other side of the world.
    const traveller = users + k;
    const t0 = base(0.7);
    plan(t0, {
      type: 'login.success',
      user: { name: userName(traveller), id: `u${traveller}` },
      ip: homeIp(traveller),
    });
    plan(t0 + 30, { type: 'login.success', user: { name: userName(traveller), id: `u${traveller}` }, ip: FAR_IP });
    truth.push({ kind: 'impossible_travel', key: userName(traveller), from: t0, to: t0 + 30 });
    // Refresh-token reuse and a disposable-domain signup: single-event rules.
    plan(base(0.8), {
      type: 'token.refresh.reuse',
      user: { id: `reuser${k}`, name: `reuser${k}@corp.example` },
      ip: homeIp(k + 7),
    });
    plan(base(0.9), {
      type: 'signup.success',
      user: { id: `new${k}`, name: `new${k}@mailinator.com`, email_domain: 'mailinator.com' },
      ip: homeIp(k + 11),
    });
  }

  const lines = [];
  let time = start;
  let id = 0;
  const push = (event) => {
    time += 1 + pick(Math.max(1, 2 * stepMs - 1));
    lines.push(JSON.stringify({ id: `ev-${seed}-${id++}`, time, source: 'generic', ...event }));
  };
  for (let i = 0; lines.length < events; i++) {
    for (const e of planned.get(i) ?? []) push(e);
    if (lines.length >= events) break;
    if (malformed > 0 && rnd() < malformed) {
      const bad = [
        '{"type": "login.success", "time": ',
        'not json at all',
        '[1,2,3]',
        '{"type":"login.success","time":"yesterday"}',
      ];
      lines.push(bad[pick(bad.length)]);
      continue;
    }
    const u = pick(users);
    const ok = rnd() < 0.93;
    push({
      type: ok ? 'login.success' : 'login.failure',
      user: { name: userName(u), id: `u${u}` },
      ip: homeIp(u),
      session_id: `s${u}`,
      client: { id: 'web' },
    });
  }
  return { lines, attacks: truth };
}
