// Paired against rsigma, a Rust Sigma engine: the same Auth0 records and the same Sigma rules
// through `authwatch replay` (geo and ASN enrichment on) and `rsigma engine eval`, whole
// processes, alternating in each round, timed with GNU time (wall and peak RSS).
//
// It needs what the repository does not ship:
//   AUTHWATCH_RSIGMA       the rsigma binary (0.23 was measured);
//   AUTHWATCH_SIGMA_RULES  a folder of Sigma rules both load, e.g. the Auth0 Detection Catalog
//                          with its shared `selected_events` rule names made unique per file
//                          (rsigma resolves references across files).
// Optional: AUTHWATCH_PEER_ROUNDS (3), AUTHWATCH_PEER_USERS (20000; the stream is a seeded day
// of `authwatch simulate --format auth0 --attack all`, 220,369 records at 20,000 users).
//
//   AUTHWATCH_RSIGMA=… AUTHWATCH_SIGMA_RULES=… npm run bench -- rsigma
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt } from './harness.js';

export const title = 'Against rsigma: the same records and rules, whole processes';

const AUTHWATCH = fileURLToPath(new URL('../bin/authwatch.js', import.meta.url));
const TIME = '/usr/bin/time';

/** Wall seconds and peak RSS (MiB) of one process, its output thrown away. */
function timed(command, args) {
  const dir = mkdtempSync(join(tmpdir(), 'authwatch-peer-time-'));
  const report = join(dir, 'time.txt');
  try {
    const r = spawnSync(TIME, ['-f', '%e %M', '-o', report, command, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 * 2 ** 20,
    });
    if (r.status !== 0) throw new Error(`${command} exited ${r.status}: ${String(r.stderr).slice(-500)}`);
    const [wall, kb] = readFileSync(report, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    return { wall, mib: kb / 1024 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function run() {
  const rsigma = process.env.AUTHWATCH_RSIGMA;
  const rules = process.env.AUTHWATCH_SIGMA_RULES;
  if (!rsigma || !rules || !existsSync(rsigma) || !existsSync(rules) || !existsSync(TIME)) {
    console.log(
      'Not run: set AUTHWATCH_RSIGMA to the rsigma binary and AUTHWATCH_SIGMA_RULES to a folder of Sigma rules both engines load (GNU time must be at /usr/bin/time).',
    );
    return;
  }
  const rounds = Number(process.env.AUTHWATCH_PEER_ROUNDS ?? 3);
  const users = process.env.AUTHWATCH_PEER_USERS ?? '20000';
  const dir = mkdtempSync(join(tmpdir(), 'authwatch-peer-'));
  try {
    const input = join(dir, 'auth0.ndjson');
    execFileSync(
      process.execPath,
      [
        AUTHWATCH,
        'simulate',
        '--seed',
        '3',
        '--format',
        'auth0',
        '--users',
        users,
        '--hours',
        '24',
        '--attack',
        'all',
        '--out',
        input,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const records = readFileSync(input, 'utf8').split('\n').filter(Boolean).length;
    const ours = [];
    const theirs = [];
    for (let i = 0; i < rounds; i++) {
      ours.push(timed(process.execPath, [AUTHWATCH, 'replay', '--rules', rules, '--input', input]));
      theirs.push(
        timed(rsigma, [
          'engine',
          'eval',
          '-r',
          rules,
          '-e',
          `@${input}`,
          '--timestamp-field',
          'data.date',
          '--action',
          'reset',
          '--output-format',
          'ndjson',
        ]),
      );
    }
    const ratios = ours.map((o, i) => o.wall / theirs[i].wall);
    console.log(`${fmt(records)} Auth0 records (seed 3, ${users} users, 24 h, every attack kind); ${rounds} rounds\n`);
    console.log('| engine | wall (median) | min | max | records/s | peak RSS (median) |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const [name, runs] of [
      ['authwatch replay', ours],
      ['rsigma engine eval', theirs],
    ]) {
      const walls = runs.map((r) => r.wall);
      console.log(
        `| ${name} | ${median(walls).toFixed(2)} s | ${Math.min(...walls).toFixed(2)} | ${Math.max(...walls).toFixed(2)} | ${fmt(records / median(walls))} | ${fmt(median(runs.map((r) => r.mib)))} MiB |`,
      );
    }
    console.log(`\nauthwatch/rsigma wall, median of the rounds' ratios: ${median(ratios).toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
