import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickhouseClient } from '../../src/clickhouse/clickhouseClient.js';
import { ident, sql } from '../../src/clickhouse/sql.js';
import type { Action, Alert } from '../../src/engine/alert.js';
import { exportPages } from '../../src/cli/export.js';
import { openStore } from '../../src/store/store.js';
import { parseCef } from '../support/cef.js';
import { parseCsv } from '../support/csv.js';
import { validateEcs, validateOcsf } from '../support/siemSchemas.js';
import { authTraffic } from '../support/traffic.js';
import { testConfig, uniqueName } from '../support/services.js';

/** `authwatch replay --store` and `authwatch query`, as a user runs them, on both engines. */

const BIN = resolve('bin/authwatch.js');
const DETECTIONS = resolve('detections');
const dir = mkdtempSync(join(tmpdir(), 'authwatch-store-cli-'));
const input = join(dir, 'events.ndjson');
writeFileSync(input, `${authTraffic({ seed: 41, events: 5000, attacks: 4 }).lines.join('\n')}\n`);
const server = testConfig().clickhouse;
const serverDb = uniqueName('cli');

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const client = createClickhouseClient(server);
  await client.command(sql`DROP DATABASE IF EXISTS ${ident(serverDb)}`);
  await client.close();
});

function authwatch(args: string[], env: Record<string, string>, cwd = dir) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...clean, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const ndjson = <T>(text: string) =>
  text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);

const targets = [
  { name: 'the embedded store (default, no ClickHouse configured)', env: {} as Record<string, string> },
  {
    name: 'the ClickHouse 18.16 server',
    env: { AUTHWATCH_CLICKHOUSE_URL: server.url!, AUTHWATCH_CLICKHOUSE_DATABASE: serverDb },
  },
];

describe.each(targets)('authwatch replay --store and query on $name', ({ env }) => {
  // Kept forever: the traffic is dated November 2026, and the events' 30-day retention would
  // drop it as it is stored once the machine's clock is past that.
  const all = { ...env, AUTHWATCH_CLICKHOUSE_EVENTS: 'true', AUTHWATCH_CLICKHOUSE_RETENTION_EVENTS: '0' };
  let printed: Alert[] = [];

  it('stores what replay prints, twice without a duplicate, and query reads it back', () => {
    for (let round = 0; round < 2; round++) {
      const r = authwatch(['replay', '--input', input, '--rules', DETECTIONS, '--store'], all);
      expect(r.stderr).toMatch(/stored \d+ alert\(s\), \d+ action\(s\), 5000 event\(s\) in /);
      expect(r.code).toBe(0);
      printed = ndjson<Alert>(r.stdout);
    }
    expect(printed.length).toBeGreaterThan(10);
    const q = authwatch(
      [
        'query',
        'SELECT alert_json FROM authwatch.alerts FINAL ORDER BY alert_id'.replace(
          'authwatch',
          env.AUTHWATCH_CLICKHOUSE_DATABASE ?? 'authwatch',
        ),
      ],
      all,
    );
    expect(q.stderr).toBe('');
    const stored = ndjson<{ alert_json: string }>(q.stdout).map((r) => JSON.parse(r.alert_json) as Alert);
    expect(stored).toEqual([...printed].sort((a, b) => a.alert_id.localeCompare(b.alert_id)));
  });

  it('answers the canned investigations: alerts by rule and level, one IP on a timeline', () => {
    const summary = ndjson<{ rule: string; level: string; alerts: string | number }>(
      authwatch(['query', '--summary', '--hours', '1000000'], all).stdout,
    );
    const byRule = new Map<string, number>();
    for (const a of printed) byRule.set(a.rule_title, (byRule.get(a.rule_title) ?? 0) + 1);
    expect(new Map(summary.map((s) => [s.rule, Number(s.alerts)]))).toEqual(byRule);

    const ip = printed.find((a) => a.rule_type === 'value_count' && a.entities.ip)!.entities.ip!;
    const timeline = ndjson<{ time: string; what: string; name: string; id: string }>(
      authwatch(['query', '--ip', ip], all).stdout,
    );
    expect(
      timeline
        .filter((t) => t.what === 'alert')
        .map((t) => t.id)
        .sort(),
    ).toEqual(
      printed
        .filter((a) => a.entities.ip === ip)
        .map((a) => a.alert_id)
        .sort(),
    );
    expect(timeline.some((t) => t.what === 'event' && t.name === 'login.failure')).toBe(true);
    expect(timeline.map((t) => t.time)).toEqual([...timeline.map((t) => t.time)].sort());
    // A table on request, CSV too.
    expect(authwatch(['query', '--ip', ip, '--format', 'table'], all).stdout).toMatch(/│ time .*│ what .*│/);
    expect(authwatch(['query', 'SELECT 1 AS a, \'x,"y"\' AS b', '--format', 'csv'], all).stdout).toBe(
      'a,b\r\n1,"x,""y"""\r\n',
    );
  });

  it('takes a user filter with quotes, backslashes and SQL keywords as a value', () => {
    const nasty = "x' OR 1=1; DROP TABLE alerts; --\\";
    const r = authwatch(['query', '--user', nasty], all);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(
      Number(
        ndjson<{ n: string }>(
          authwatch(
            ['query', `SELECT count() AS n FROM ${env.AUTHWATCH_CLICKHOUSE_DATABASE ?? 'authwatch'}.alerts FINAL`],
            all,
          ).stdout,
        )[0]!.n,
      ),
    ).toBe(printed.length);
  });
});

describe.each(targets)('authwatch export on $name', ({ env }) => {
  // Kept forever: the traffic is dated November 2026, and the events' 30-day retention would
  // drop it as it is stored once the machine's clock is past that.
  const all = { ...env, AUTHWATCH_CLICKHOUSE_EVENTS: 'true', AUTHWATCH_CLICKHOUSE_RETENTION_EVENTS: '0' };
  const db = env.AUTHWATCH_CLICKHOUSE_DATABASE ?? 'authwatch';
  let stored: Alert[] = [];
  let actions: Action[] = [];

  beforeAll(() => {
    // What the replay above stored (twice): read back once each, oldest first.
    stored = ndjson<{ json: string }>(
      authwatch(['query', `SELECT alert_json AS json FROM ${db}.alerts FINAL ORDER BY detected_at, alert_id`], all)
        .stdout,
    ).map((r) => JSON.parse(r.json) as Alert);
    actions = ndjson<{ json: string }>(
      authwatch(['query', `SELECT action_json AS json FROM ${db}.actions FINAL ORDER BY created_at, action_id`], all)
        .stdout,
    ).map((r) => JSON.parse(r.json) as Action);
    expect(stored.length).toBeGreaterThan(10);
  });

  it('writes every stored alert once, oldest first, with its actions, in each format', () => {
    const json = authwatch(['export', '--format', 'json'], all);
    expect(json.code, json.stderr).toBe(0);
    const exported = ndjson<Alert & { actions: Action[] }>(json.stdout);
    expect(exported.map(({ actions: _, ...a }) => a)).toEqual(stored);
    for (const e of exported) expect(e.actions).toEqual(actions.filter((a) => a.alert_id === e.alert_id));
    const ids = stored.map((a) => a.alert_id);

    const ocsf = ndjson<{ finding_info: { uid: string } }>(authwatch(['export', '--format', 'ocsf'], all).stdout);
    expect(ocsf.map((f) => f.finding_info.uid)).toEqual(ids);
    for (const f of ocsf) expect(validateOcsf(f)).toEqual([]);
    const ecs = ndjson<{ event: { id: string } }>(authwatch(['export', '--format', 'ecs'], all).stdout);
    expect(ecs.map((d) => d.event.id)).toEqual(ids);
    for (const d of ecs) expect(validateEcs(withoutOwnFields(d))).toEqual([]);
    const hec = ndjson<{ event: { alert_id: string } }>(authwatch(['export', '--format', 'hec'], all).stdout);
    expect(hec.map((e) => e.event.alert_id)).toEqual(ids);
    const cef = authwatch(['export', '--format', 'cef'], all).stdout.trimEnd().split('\n');
    expect(cef.map((l) => parseCef(l).extension.externalId)).toEqual(ids);
    const csv = parseCsv(authwatch(['export', '--format', 'csv'], all).stdout);
    expect(csv[0]![0]).toBe('alert_id');
    expect(csv.slice(1).map((r) => r[0])).toEqual(ids);
  });

  it('filters by time, rule, level and entity, with every value reaching SQL escaped', () => {
    const ids = (args: string[]) => {
      const r = authwatch(['export', '--format', 'json', ...args], all);
      expect(r.code, r.stderr).toBe(0);
      return ndjson<Alert>(r.stdout).map((a) => a.alert_id);
    };
    const of = (keep: (a: Alert) => boolean) => stored.filter(keep).map((a) => a.alert_id);
    const rule = stored[0]!.rule_id;
    expect(ids(['--rule', rule])).toEqual(of((a) => a.rule_id === rule));
    const other = stored.find((a) => a.rule_id !== rule)!.rule_id;
    expect(ids(['--rule', rule, '--rule', other])).toEqual(of((a) => a.rule_id === rule || a.rule_id === other));
    expect(ids(['--level', 'high'])).toEqual(of((a) => a.level === 'high' || a.level === 'critical'));
    const ip = stored.find((a) => a.entities.ip)!.entities.ip!;
    expect(ids(['--entity', `ip=${ip}`])).toEqual(of((a) => a.entities.ip === ip));
    const user = stored.find((a) => a.entities.user)!.entities.user!;
    expect(ids(['--entity', user])).toEqual(of((a) => Object.values(a.entities).some((v) => v === user)));
    // Stored times are whole seconds on 18.16: cut between two seconds.
    const mid = Math.floor(stored[Math.floor(stored.length / 2)]!.detected_at / 1000) * 1000;
    const at = new Date(mid).toISOString();
    expect([...ids(['--until', at]), ...ids(['--since', at])]).toEqual(stored.map((a) => a.alert_id));
    expect(ids(['--since', at])).toEqual(of((a) => a.detected_at >= mid));
    expect(ids(['--since', '3650d'])).toEqual(of(() => true));
    for (const nasty of ["x' OR '1'='1", "x') OR 1=1 --", "\\' OR 1=1; DROP TABLE alerts; --"]) {
      expect(ids(['--rule', nasty])).toEqual([]);
      expect(ids(['--entity', `user=${nasty}`])).toEqual([]);
    }
    expect(ids([])).toHaveLength(stored.length); // nothing dropped
  });

  it('writes to a file with a summary, draws progress on a terminal, and refuses bad arguments', () => {
    const file = join(dir, `export-${env.AUTHWATCH_CLICKHOUSE_DATABASE ?? 'embedded'}.cef`);
    const r = authwatch(['export', '--format', 'cef', '--out', file], all);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Exported ${stored.length} alert(s) as cef to ${file}.\n`);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(stored.length);

    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
    const command = `${process.execPath} ${BIN} export --format ecs --out ${file}`;
    const screen = spawnSync('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
      cwd: dir,
      env: { ...clean, ...all, TERM: 'xterm' },
      encoding: 'utf8',
    });
    expect(screen.status, screen.stdout).toBe(0);
    expect(screen.stdout).toContain(`exporting: ${stored.length} of ${stored.length} alerts (100 %)`);

    for (const [args, message] of [
      [['--format', 'xml'], /--format must be one of ocsf, ecs, cef, hec, json, csv, not xml/],
      [[], /--format must be one of/],
      [['--format', 'json', '--level', 'severe'], /--level must be one of informational, low, medium, high, critical/],
      [['--format', 'json', '--since', 'yesterday'], /--since yesterday: neither an ISO 8601 time nor a duration/],
      [['--format', 'json', '--entity', 'mail=x'], /the kind must be one of user, user_id, ip/],
    ] as const) {
      const bad = authwatch(['export', ...args], all);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(message);
    }
  });
});

describe('exporting in pages (ClickHouse 18.16 server)', () => {
  it('continues each page after the last (time, id) of the one before: every alert once, in order', async () => {
    const store = await openStore({ ...server, database: serverDb });
    try {
      const pages: string[][] = [];
      for await (const page of exportPages(store, serverDb, {}, 3)) pages.push(page.map((d) => d.alert.alert_id));
      const all = ndjson<{ id: string }>(
        authwatch(['query', `SELECT alert_id AS id FROM ${serverDb}.alerts FINAL ORDER BY detected_at, alert_id`], {
          AUTHWATCH_CLICKHOUSE_URL: server.url!,
        }).stdout,
      ).map((r) => r.id);
      expect(pages.length).toBe(Math.ceil(all.length / 3));
      expect(pages.every((p) => p.length <= 3)).toBe(true);
      expect(pages.flat()).toEqual(all);
    } finally {
      await store.close();
    }
  });
});

/** ECS documents without authwatch's own namespace, which ECS leaves to the producer. */
function withoutOwnFields(doc: Record<string, unknown>): Record<string, unknown> {
  const { authwatch: _, ...rest } = doc;
  return rest;
}

describe('the embedded store held by another process', () => {
  it('is refused with the reason and what to do, not a crash', async () => {
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const { Session } = require('chdb'); new Session(${JSON.stringify(join(dir, 'held'))}, { installSignalHandlers: false }); console.log('held'); setInterval(() => {}, 1000);`,
      ],
      { cwd: resolve('.'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((ok) => holder.stdout!.once('data', () => ok()));
      const r = authwatch(['query', 'SELECT 1'], { AUTHWATCH_CLICKHOUSE_PATH: join(dir, 'held') });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/could not be opened .*another process, such as a running `authwatch run`, holds it/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

describe('authwatch run without Kafka, on stdin', () => {
  it('stores as it goes into the embedded store, and answers query --url on its port while it runs', async () => {
    const store = join(dir, 'stdin-store');
    const config = join(dir, 'stdin.yaml');
    writeFileSync(
      config,
      `log_level: info\nserver: {port: 0}\nclickhouse: {path: ${store}, events: true, insert_max_rows: 100, retention: {events: '0'}}\nrules: {paths: [${DETECTIONS}]}\n`,
    );
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
    const proc = spawn(process.execPath, [BIN, 'run', '--config', config, '--input', '-'], { cwd: dir, env: clean });
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const port = await new Promise<number>((ok, fail) => {
      proc.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /"port":(\d+),"msg":"Serving/.exec(stderr);
        if (m) ok(Number(m[1]));
      });
      proc.once('exit', () => fail(new Error(`run exited: ${stderr}`)));
    });
    const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
    const lines = authTraffic({ seed: 43, events: 3000, attacks: 3 }).lines;
    proc.stdin!.write(`${lines.slice(0, 2000).join('\n')}\n`);
    const url = `http://127.0.0.1:${port}`;
    const count = () =>
      Number(
        (
          JSON.parse(
            authwatch(['query', '--url', url, 'SELECT count() AS n FROM authwatch.events'], {}).stdout || '{"n":0}',
          ) as { n: unknown }
        ).n,
      );
    const deadline = Date.now() + 20_000;
    while (count() < 1900 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(count()).toBeGreaterThanOrEqual(1900); // written in batches of 100 while it runs
    proc.stdin!.end(`${lines.slice(2000).join('\n')}\n`);
    expect(await exited).toBe(0);
    const printed = ndjson<Alert>(stdout);
    expect(printed.length).toBeGreaterThan(5);
    const after = authwatch(['query', 'SELECT alert_id FROM authwatch.alerts FINAL ORDER BY alert_id'], {
      AUTHWATCH_CLICKHOUSE_PATH: store,
    });
    expect(ndjson<{ alert_id: string }>(after.stdout).map((r) => r.alert_id)).toEqual(
      printed.map((a) => a.alert_id).sort(),
    );
  });
});
