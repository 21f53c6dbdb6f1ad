// Realistic labelled traffic of a tenant whose users live in many countries, as Auth0 log-stream
// records and Okta System Log events, over several weeks: what the shipped pack must not name a
// benign user on (issue 11), with a few attacks it must still catch. Seeded: same seed, same lines.
import { addressIn, prng } from '../../src/simulate/simulate.js';

/** A country users live in: its code, Okta's name for it, a city and where it is, and its calling code. */
const COUNTRIES: ReadonlyArray<readonly [string, string, string, number, number, string]> = [
  ['GB', 'United Kingdom', 'London', 51.507, -0.128, '447700'],
  ['DE', 'Germany', 'Berlin', 52.52, 13.405, '4915'],
  ['FR', 'France', 'Paris', 48.857, 2.352, '336'],
  ['IN', 'India', 'Bengaluru', 12.972, 77.594, '9198'],
  ['BR', 'Brazil', 'São Paulo', -23.55, -46.633, '5511'],
  ['NG', 'Nigeria', 'Lagos', 6.524, 3.379, '234803'],
  ['KE', 'Kenya', 'Nairobi', -1.286, 36.817, '254712'],
  ['JP', 'Japan', 'Tokyo', 35.676, 139.65, '8190'],
  ['MX', 'Mexico', 'Mexico City', 19.433, -99.133, '5255'],
  ['ID', 'Indonesia', 'Jakarta', -6.208, 106.846, '62812'],
  ['PH', 'Philippines', 'Manila', 14.6, 120.984, '63917'],
  ['VN', 'Vietnam', 'Hanoi', 21.028, 105.834, '8491'],
  ['EG', 'Egypt', 'Cairo', 30.044, 31.236, '2010'],
  ['TR', 'Turkey', 'Istanbul', 41.008, 28.978, '90532'],
  ['PL', 'Poland', 'Warsaw', 52.23, 21.012, '48601'],
  ['AR', 'Argentina', 'Buenos Aires', -34.604, -58.382, '54911'],
  ['ZA', 'South Africa', 'Johannesburg', -26.204, 28.047, '2782'],
  ['PK', 'Pakistan', 'Karachi', 24.861, 67.01, '92300'],
  ['BD', 'Bangladesh', 'Dhaka', 23.81, 90.412, '88017'],
  ['TH', 'Thailand', 'Bangkok', 13.756, 100.502, '6681'],
  ['CO', 'Colombia', 'Bogotá', 4.711, -74.072, '57300'],
  ['UA', 'Ukraine', 'Kyiv', 50.45, 30.523, '38050'],
  ['MA', 'Morocco', 'Casablanca', 33.573, -7.59, '212661'],
  ['KR', 'South Korea', 'Seoul', 37.566, 126.978, '8210'],
  ['US', 'United States', 'Chicago', 41.878, -87.63, '1312555'],
];

/** What the traffic holds, for the assertions: who is benign, and each attack's entities. */
export interface GlobalTraffic {
  lines: string[];
  benignUsers: Set<string>;
  attacks: {
    smsPumping: { client: string; country: string };
    sessionHijack: { user: string; session: string };
    stuffing: { ip: string };
    impossibleTravel: { user: string };
  };
}

const APPS = ['app-web', 'app-mobile'];
const DAY = 86_400_000;

export function globalTraffic({ seed = 7, users = 240, days = 21, start = Date.UTC(2026, 9, 1) } = {}): GlobalTraffic {
  const rnd = prng(seed);
  const out: Array<{ t: number; line: string }> = [];
  const emit = (t: number, record: object) => out.push({ t, line: JSON.stringify(record) });
  let seq = 0;
  const id = (t: number) => `9002${String(t).padStart(16, '0')}${String(++seq).padStart(12, '0')}`;
  const iso = (t: number) => new Date(t).toISOString();
  const benignUsers = new Set<string>();

  for (let u = 0; u < users; u++) {
    const [code, name, city, lat, lon, dial] = COUNTRIES[u % COUNTRIES.length]!;
    const okta = u % 2 === 1;
    const userName = `user${u}@${okta ? 'corp' : 'shop'}.example`;
    const userId = okta ? `00u${u.toString(36).padStart(6, '0')}` : `auth0|${u.toString(16).padStart(8, '0')}`;
    benignUsers.add(userName);
    // A stable home address and network (Okta reports the ASN; Auth0's come from enrichment).
    const ip = addressIn(code, rnd);
    const asn = 64_000 + (u % 500);
    const phone = `+${dial}${String(100_000 + u).slice(-6)}`;
    const smsUser = u % 3 === 0;
    const app = APPS[u % APPS.length]!;
    for (let day = 0; day < days; day++) {
      if (rnd() < 0.45) continue; // not every day
      let t = start + day * DAY + Math.floor(rnd() * 14 * 3_600_000) + 6 * 3_600_000;
      const session = `s-${u}-${day}`;
      if (okta) {
        // Okta Identity Engine: a few typos, the password and a factor verified, the session
        // started, then SSO into apps. 15% of events know no place (Null Island, "City"), and
        // some carry the address "null".
        const oktaEvent = (eventType: string, result: string, extra: object = {}) => {
          const unknownPlace = rnd() < 0.15;
          emit(t, {
            uuid: `${u}-${day}-${++seq}`,
            published: iso(t),
            eventType,
            actor: { id: userId, type: 'User', alternateId: userName, displayName: `User ${u}` },
            client: {
              userAgent: { rawUserAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0' },
              ipAddress: rnd() < 0.05 ? 'null' : ip,
              geographicalContext: unknownPlace
                ? {
                    city: 'City',
                    state: 'State',
                    country: 'Country',
                    postalCode: null,
                    geolocation: { lat: 0, lon: 0 },
                  }
                : { city, state: null, country: name, postalCode: null, geolocation: { lat, lon } },
            },
            authenticationContext: { externalSessionId: session },
            outcome: { result, reason: result === 'FAILURE' ? 'INVALID_CREDENTIALS' : null },
            securityContext: { asNumber: asn, asOrg: `isp ${asn}`, isp: `isp ${asn}`, domain: null, isProxy: false },
            target: [{ id: 'app1', type: 'AppInstance', alternateId: 'Okta Dashboard', displayName: 'Okta Dashboard' }],
            ...extra,
          });
          t += 2_000 + Math.floor(rnd() * 8_000);
        };
        const typos = rnd() < 0.3 ? 1 + Math.floor(rnd() * 4) : 0;
        for (let i = 0; i < typos; i++) {
          oktaEvent('user.authentication.verify', 'FAILURE');
          oktaEvent('user.session.start', 'FAILURE');
        }
        oktaEvent('user.authentication.verify', 'SUCCESS');
        if (smsUser) {
          oktaEvent('system.sms.send_factor_verify_message', 'SUCCESS', {
            debugContext: { debugData: { phoneNumber: phone } },
          });
          if (rnd() < 0.9) oktaEvent('user.authentication.auth_via_mfa', 'SUCCESS');
        }
        oktaEvent('user.authentication.verify', 'SUCCESS');
        oktaEvent('user.session.start', 'SUCCESS');
        for (let i = 0; i < 2; i++) oktaEvent('user.authentication.sso', 'SUCCESS');
      } else {
        // Auth0: a login, SMS MFA for some, then silent authentication from the same network.
        const auth0Event = (type: string, extra: object = {}) => {
          emit(t, {
            log_id: id(t),
            data: {
              date: iso(t),
              type,
              description: type,
              client_id: app,
              client_name: app,
              ip,
              user_id: userId,
              user_name: userName,
              tenant_name: 'shop-prod',
              hostname: 'shop-prod.eu.auth0.com',
              user_agent: 'Chrome 131.0.0 / Android 15',
              location_info: { country_code: code, city_name: city, latitude: lat, longitude: lon },
              details: { session_id: session },
              ...extra,
            },
          });
          t += 5_000 + Math.floor(rnd() * 20_000);
        };
        if (rnd() < 0.2) auth0Event('fp');
        if (smsUser) {
          auth0Event('gd_send_sms', { details: { authenticator: { phone_number: phone } } });
          if (rnd() < 0.9) auth0Event('gd_auth_succeed');
        }
        auth0Event('s');
        const uses = 2 + Math.floor(rnd() * 5);
        for (let i = 0; i < uses; i++) {
          t += Math.floor(rnd() * 2 * 3_600_000);
          auth0Event('ssa');
        }
      }
    }
  }

  // An Okta incident: a burst of failures whose address Okta wrote as "null" (issue 11, item 2).
  const incident = start + 9 * DAY + 3_600_000;
  for (let u = 1; u < 30; u += 2) {
    emit(incident + u * 1_000, {
      uuid: `null-ip-${u}`,
      published: iso(incident + u * 1_000),
      eventType: 'user.session.start',
      actor: { id: `00u${u.toString(36).padStart(6, '0')}`, type: 'User', alternateId: `user${u}@corp.example` },
      client: { ipAddress: 'null', geographicalContext: null },
      authenticationContext: { externalSessionId: 'unknown' },
      outcome: { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' },
      target: null,
    });
  }

  // Attacks. SMS pumping: messages for throwaway accounts to Uzbek numbers nobody verifies.
  const pumpAt = start + 15 * DAY + 2 * 3_600_000;
  for (let i = 0; i < 40; i++) {
    const t = pumpAt + i * 30_000;
    emit(t, {
      log_id: id(t),
      data: {
        date: iso(t),
        type: 'gd_send_sms',
        description: 'Guardian - SMS sent',
        client_id: 'app-mobile',
        client_name: 'app-mobile',
        ip: `203.0.113.${10 + (i % 5)}`,
        user_id: `auth0|pump${i}`,
        user_name: `pump${i}@mail.example`,
        details: { authenticator: { phone_number: `+99890${String(1_000_000 + i)}` } },
      },
    });
  }
  // A session cookie of an Auth0 user replayed from a hosting provider.
  const victim = 0; // an Auth0 user (even index)
  const hijackAt = start + 17 * DAY + 10 * 3_600_000;
  const hijack = {
    log_id: '',
    data: {
      date: '',
      type: '',
      description: '',
      client_id: 'app-web',
      client_name: 'app-web',
      ip: '81.2.69.142',
      user_id: `auth0|${victim.toString(16).padStart(8, '0')}`,
      user_name: `user${victim}@shop.example`,
      details: { session_id: 'hijacked-session' },
    },
  };
  const hijackEvent = (t: number, type: string, ip: string) => {
    emit(t, { ...hijack, log_id: id(t), data: { ...hijack.data, date: iso(t), type, description: type, ip } });
  };
  hijackEvent(hijackAt, 's', '81.2.69.142');
  hijackEvent(hijackAt + 600_000, 'ssa', '81.2.69.142');
  hijackEvent(hijackAt + 3_600_000, 'ssa', '185.220.101.4');
  // Credential stuffing from one address against Auth0 accounts.
  const stuffAt = start + 12 * DAY + 4 * 3_600_000;
  for (let i = 0; i < 25; i++) {
    const t = stuffAt + i * 3_000;
    emit(t, {
      log_id: id(t),
      data: {
        date: iso(t),
        type: 'fp',
        description: 'Wrong email or password.',
        client_id: 'app-web',
        ip: '185.220.101.9',
        user_name: `victim${i}@shop.example`,
      },
    });
  }
  // Impossible travel: an Auth0 user logs in at home, then from Australia ten minutes later.
  const traveller = 2;
  const travelAt = start + 19 * DAY + 12 * 3_600_000;
  for (const [dt, ip, code, lat, lon] of [
    [0, '81.2.69.160', 'GB', 51.507, -0.128],
    [600_000, '1.128.0.1', 'AU', -33.87, 151.21],
  ] as const) {
    const t = travelAt + dt;
    emit(t, {
      log_id: id(t),
      data: {
        date: iso(t),
        type: 's',
        description: 'Successful login',
        client_id: 'app-web',
        ip,
        user_id: `auth0|traveller`,
        user_name: `user${traveller}@shop.example`,
        location_info: { country_code: code, latitude: lat, longitude: lon },
        details: { session_id: `travel-${dt}` },
      },
    });
  }

  out.sort((a, b) => a.t - b.t);
  return {
    lines: out.map((e) => e.line),
    benignUsers,
    attacks: {
      smsPumping: { client: 'app-mobile', country: 'UZ' },
      sessionHijack: { user: `user${victim}@shop.example`, session: 'hijacked-session' },
      stuffing: { ip: '185.220.101.9' },
      impossibleTravel: { user: `user${traveller}@shop.example` },
    },
  };
}
