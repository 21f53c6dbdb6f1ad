import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { createKafkaClient } from '../../src/kafka/kafkaClient.js';
import { lockPort, testConfig, uniqueName } from '../support/services.js';

const BIN = resolve('bin/authwatch.js');
const dir = mkdtempSync(join(tmpdir(), 'authwatch-simulate-'));
const kafka = createKafkaClient(testConfig().kafka);
const topics: string[] = [];

afterAll(async () => {
  if (topics.length > 0) await kafka.deleteTopics(topics);
  await kafka.close();
});

function authwatch(args: string[]) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
  const env = { ...clean, AUTHWATCH_KAFKA_BROKERS: testConfig().kafka.brokers.join(',') };
  const began = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - began };
}

describe('authwatch simulate --topic (real broker)', () => {
  it('writes the same records to a Kafka topic as to a file, keyed by user, at the rate asked', async () => {
    const topic = uniqueName('sim');
    topics.push(topic);
    const args = [
      'simulate',
      '--seed',
      '5',
      '--users',
      '100',
      '--hours',
      '6',
      '--format',
      'okta',
      '--attack',
      'brute_force',
    ];
    const toFile = authwatch([...args, '--out', join(dir, 'events.ndjson')]);
    expect(toFile.code).toBe(0);
    const lines = readFileSync(join(dir, 'events.ndjson'), 'utf8').trim().split('\n');
    const rate = Math.ceil(lines.length / 2); // about two seconds of pacing
    const toKafka = authwatch([...args, '--topic', topic, '--rate', String(rate)]);
    expect(toKafka.stderr).toContain(`(${lines.length} record(s))`);
    expect(toKafka.code).toBe(0);
    expect(toKafka.ms).toBeGreaterThanOrEqual(1_500);
    const read: { key: string; value: string }[] = [];
    await kafka.readToEnd(topic, (r) => read.push({ key: r.key!.toString(), value: r.value!.toString() }));
    expect(read.map((r) => r.value).sort()).toEqual([...lines].sort());
    for (const r of read)
      expect(r.key).toBe((JSON.parse(r.value) as { actor: { alternateId: string } }).actor.alternateId);
  });

  it('needs brokers for --topic, and says so', () => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
    const r = spawnSync(process.execPath, [BIN, 'simulate', '--topic', 'x', '--users', '5', '--hours', '1'], {
      cwd: dir,
      env: clean,
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--topic needs Kafka brokers');
  });
});

describe('npm start on a fresh machine (authwatch run, no configuration)', () => {
  it('plays the default scenario in under a minute, catches every attack, and stores the alerts', () => {
    const release = lockPort(9464); // the embedded store's SQL port, which the README's examples use too
    onTestFinished(release);
    const home = mkdtempSync(join(tmpdir(), 'authwatch-start-'));
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
    const began = Date.now();
    // What `npm start` runs, as a new user would, in a folder of its own (the embedded store goes there).
    const r = spawnSync(process.execPath, [BIN, 'run'], { cwd: home, env: clean, encoding: 'utf8', timeout: 90_000 });
    const ms = Date.now() - began;
    expect(r.status, r.stderr).toBe(0);
    expect(ms).toBeLessThan(60_000);
    const alerts = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { alert_id: string });
    expect(alerts.length).toBeGreaterThan(12);
    expect(r.stderr).toContain('injected attacks caught: 12 of 12');
    expect(r.stderr).toContain('npx authwatch query --summary');
    const summary = spawnSync(process.execPath, [BIN, 'query', '--summary', '--format', 'json'], {
      cwd: home,
      env: clean,
      encoding: 'utf8',
    });
    expect(summary.status, summary.stderr).toBe(0);
    const rows = JSON.parse(summary.stdout) as { alerts: number | string }[];
    expect(rows.reduce((n, row) => n + Number(row.alerts), 0)).toBe(alerts.length);
  }, 120_000);
});
