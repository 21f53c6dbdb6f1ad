// Pure predicate evaluation: ~50 single-event rules (auth-shaped: type lists, contains,
// CIDR, regular expressions, negations) over pre-parsed canonical events, on one core.
import { RuleIndex } from '../dist/engine/ruleIndex.js';
import { loadRuleText } from '../dist/rules/loader.js';
import { fmt, measure } from './harness.js';

export const title = 'Rule predicates (issue 3)';

const TYPES = [
  'login.success',
  'login.failure',
  'signup.success',
  'mfa.sms.sent',
  'mfa.push.sent',
  'mfa.push.rejected',
  'token.refresh.success',
  'password.leaked',
  'management.write',
  'other',
];
const WEIGHTS = [40, 25, 4, 6, 5, 1, 15, 1, 1, 2];

function rules() {
  const docs = [];
  const add = (detection) =>
    docs.push(
      `title: bench rule ${docs.length}\nid: 00000000-0000-4000-8000-${String(docs.length).padStart(12, '0')}\nlogsource: {product: authwatch}\nlevel: medium\ndetection:\n${detection}`,
    );
  for (let i = 0; i < 10; i++) {
    const t = TYPES[i % TYPES.length];
    add(
      `  sel:\n    type: ${t}\n    user_agent|contains: ['curl', 'python-requests', 'go-http-client']\n  condition: sel`,
      i,
    );
    add(
      `  sel:\n    type: ${t}\n    ip|cidr: ['10.0.0.0/8', '192.168.0.0/16', '100.64.0.0/10']\n  filter:\n    geo.country: [US, CA]\n  condition: sel and not filter`,
      i,
    );
    add(
      `  sel:\n    type: [${t}, ${TYPES[(i + 3) % TYPES.length]}]\n    user.email_domain|endswith: ['.ru', '.xyz', 'mailinator.com']\n  condition: sel`,
      i,
    );
    add(`  sel:\n    type: ${t}\n    reason|re|i: 'wrong (password|email)'\n  condition: sel`);
    add(
      `  sel:\n    type: ${t}\n    asn: [14061, 16509, 24940]\n  unknown:\n    geo.country: null\n  condition: sel or (unknown and sel)`,
      i,
    );
  }
  return loadRuleText('bench.yml', docs.join('\n---\n'));
}

function events(n) {
  const out = [];
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const total = WEIGHTS.reduce((a, b) => a + b, 0);
  const uas = [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0',
    'curl/8.5.0',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Safari/604.1',
    'python-requests/2.32',
  ];
  for (let i = 0; i < n; i++) {
    let r = rnd() * total;
    let t = 0;
    while (r > WEIGHTS[t]) r -= WEIGHTS[t++];
    out.push({
      id: `e${i}`,
      time: 1_767_000_000_000 + i,
      source: 'generic',
      type: TYPES[t],
      outcome: TYPES[t].endsWith('failure') ? 'failure' : 'success',
      reason: TYPES[t] === 'login.failure' ? (rnd() < 0.5 ? 'Wrong email or password.' : 'Account blocked') : undefined,
      user: {
        id: `u${Math.floor(rnd() * 5000)}`,
        name: `user${i % 5000}@example.com`,
        email_domain: rnd() < 0.02 ? 'mailinator.com' : 'example.com',
      },
      ip: `${Math.floor(rnd() * 223) + 1}.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}`,
      asn: [15169, 16509, 3320, 7922][Math.floor(rnd() * 4)],
      geo: rnd() < 0.9 ? { country: ['US', 'DE', 'FR', 'CA', 'BR'][Math.floor(rnd() * 5)], city: 'X' } : {},
      user_agent: uas[Math.floor(rnd() * uas.length)],
    });
  }
  return out;
}

export async function run() {
  const set = rules();
  if (set.diagnostics.errorCount > 0) throw new Error('bench rules did not load');
  const index = new RuleIndex(set.detections);
  const evs = events(200_000);
  let hits = 0;
  const onMatch = () => {
    hits++;
  };
  const indexed = measure(() => {
    for (const e of evs) index.forEachMatch(e, onMatch);
  }, evs.length);
  const all = set.detections;
  const unindexed = measure(() => {
    for (const e of evs) for (const r of all) if (r.predicate(e)) hits++;
  }, evs.length);
  console.log(`${all.length} rules, ${fmt(evs.length)} events, ${fmt(hits)} matches counted over all rounds\n`);
  console.log('| path | events/s (median) | min | max |');
  console.log('|---|---:|---:|---:|');
  console.log(
    `| rule index (what the engine runs) | ${fmt(indexed.median)} | ${fmt(indexed.min)} | ${fmt(indexed.max)} |`,
  );
  console.log(
    `| every rule on every event | ${fmt(unindexed.median)} | ${fmt(unindexed.min)} | ${fmt(unindexed.max)} |`,
  );
  console.log(`\nindex speed-up: ${(indexed.median / unindexed.median).toFixed(1)}×`);
}
