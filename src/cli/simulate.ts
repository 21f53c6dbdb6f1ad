import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { createKafkaClient, type KafkaProducer, type OutgoingRecord } from '../kafka/kafkaClient.js';
import { ConfigError } from '../errors.js';
import { formatRecords, SIM_FORMATS, type SimFormat } from '../simulate/formats.js';
import { Pacer } from '../simulate/pace.js';
import { loadScenario, placeAttacks, type Scenario } from '../simulate/scenario.js';
import { parseIsoTime } from '../time/iso.js';
import { ATTACK_KINDS, DEFAULT_START, simulate, type AttackKind, type AttackSpec } from '../simulate/simulate.js';

const USAGE = `usage: authwatch simulate [--scenario FILE] [--seed N] [--format auth0|okta|canonical]
                          [--users N] [--hours H] [--attack KIND[,KIND…]|all] [--start ISO-TIME]
                          [--rate RECORDS/S | --speed N] [--out FILE] [--truth FILE]
                          [--topic TOPIC [--config FILE]]

Writes seeded, realistic auth traffic as NDJSON: users with homes, devices, MFA and sessions
that go on with refresh tokens and silent authentication, typos, flights abroad; with
--attack, attacks mixed in (${ATTACK_KINDS.join(', ')}).
A scenario file (YAML) sets any of seed, users, hours, start and format, and lists attacks
with when they begin, their size and pace; options given here win over it, and --attack adds
to its attacks. The same options give the same bytes. Events go to stdout, to --out FILE, or
to the Kafka topic --topic (brokers from the configuration, e.g. AUTHWATCH_KAFKA_BROKERS), as
fast as possible, at --rate records per second, or at --speed times the pace of their event
times. --truth writes each attack's ground truth (kind, time span, IPs, users, sessions) as
NDJSON; with --out and no --truth it goes to FILE.truth.ndjson.
`;

/** `authwatch simulate`: seeded traffic with attacks, for trying rules and the engine. */
export async function simulateCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        scenario: { type: 'string' },
        seed: { type: 'string' },
        format: { type: 'string' },
        users: { type: 'string' },
        hours: { type: 'string' },
        attack: { type: 'string', multiple: true },
        start: { type: 'string' },
        rate: { type: 'string' },
        speed: { type: 'string' },
        out: { type: 'string' },
        truth: { type: 'string' },
        topic: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`authwatch simulate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let scenario: Scenario = { attacks: [] };
  if (values.scenario !== undefined) {
    try {
      scenario = loadScenario(values.scenario);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`authwatch simulate: ${err.message}\n`);
      return 2;
    }
  }
  const problems: string[] = [];
  const whole = (name: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      problems.push(`--${name} must be a whole number from ${min} to ${max}.`);
    return n;
  };
  const seed = whole('seed', values.seed, scenario.seed ?? 1, 0, 2 ** 32 - 1);
  const users = whole('users', values.users, scenario.users ?? 1000, 1, 1_000_000);
  const hours = whole('hours', values.hours, scenario.hours ?? 24, 1, 24 * 90);
  const format = (values.format ?? scenario.format ?? 'canonical') as SimFormat;
  if (!SIM_FORMATS.includes(format)) problems.push(`--format must be one of ${SIM_FORMATS.join(', ')}.`);
  const kinds: AttackKind[] = [];
  for (const kind of (values.attack ?? [])
    .flatMap((a) => a.split(','))
    .map((a) => a.trim())
    .filter(Boolean)) {
    if (kind === 'all') kinds.push(...ATTACK_KINDS);
    else if ((ATTACK_KINDS as readonly string[]).includes(kind)) kinds.push(kind as AttackKind);
    else problems.push(`--attack: \`${kind}\` is not an attack kind (${ATTACK_KINDS.join(', ')}, or all).`);
  }
  const start = values.start === undefined ? (scenario.start ?? DEFAULT_START) : (parseIsoTime(values.start) ?? NaN);
  if (!Number.isFinite(start)) problems.push('--start must be an ISO 8601 time, such as 2026-11-02T00:00:00Z.');
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(rate > 0)) problems.push('--rate must be a positive number of records per second.');
  const speed = values.speed === undefined ? undefined : Number(values.speed);
  if (speed !== undefined && !(speed > 0)) problems.push('--speed must be a positive number.');
  if (rate !== undefined && speed !== undefined) problems.push('--rate and --speed cannot both be given.');
  if (values.topic !== undefined && values.out !== undefined) problems.push('--topic and --out cannot both be given.');
  let attacks: AttackSpec[] = [];
  if (problems.length === 0) {
    try {
      attacks = [...placeAttacks(scenario.attacks, start, hours), ...[...new Set(kinds)].map((kind) => ({ kind }))];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) {
    process.stderr.write(`${problems.map((p) => `authwatch simulate: ${p}`).join('\n')}\n\n${USAGE}`);
    return 2;
  }

  const { events, truth } = simulate({ seed, users, hours, start, attacks });
  const truthPath = values.truth ?? (values.out !== undefined ? `${values.out}.truth.ndjson` : undefined);
  if (truthPath !== undefined) writeFileSync(truthPath, truth.map((t) => `${JSON.stringify(t)}\n`).join(''));

  const write = values.topic !== undefined ? await kafkaWriter(values.topic, values.config) : fileWriter(values.out);
  const pacer = new Pacer({ rate, speed });
  // Batches of about a tenth of a second's records when paced, so pacing stays smooth.
  const batch =
    rate === undefined && speed === undefined ? 1000 : Math.max(1, Math.min(1000, Math.round((rate ?? 100) / 10)));
  let records = 0;
  for (let i = 0; i < events.length; i += batch) {
    await pacer.wait(records, events[i]!.t);
    const lines: string[] = [];
    const keys: string[] = [];
    for (let j = i; j < Math.min(events.length, i + batch); j++) {
      for (const record of formatRecords(events[j]!, format, seed, j)) {
        lines.push(JSON.stringify(record));
        keys.push(events[j]!.user.name);
      }
    }
    records += lines.length;
    await write.records(lines, keys);
  }
  await write.close();
  process.stderr.write(
    `simulated ${events.length} event(s) (${records} record(s)) of ${users} user(s) over ${hours} h (${format}, seed ${seed}); ${truth.length} attack(s)${truthPath ? `, ground truth in ${truthPath}` : ''}\n`,
  );
  return 0;
}

interface Writer {
  records(lines: string[], keys: string[]): Promise<void>;
  close(): Promise<void>;
}

function fileWriter(path: string | undefined): Writer {
  const out: WriteStream | NodeJS.WriteStream = path === undefined ? process.stdout : createWriteStream(path);
  return {
    async records(lines) {
      if (!out.write(`${lines.join('\n')}\n`)) await once(out, 'drain');
    },
    async close() {
      if (out !== process.stdout) {
        (out as WriteStream).end();
        await once(out, 'finish');
      }
    },
  };
}

/** Records keyed by user, so one user's events stay in order in one partition. */
async function kafkaWriter(topic: string, configFile: string | undefined): Promise<Writer> {
  const config = loadConfig({ file: configFile ?? process.env.AUTHWATCH_CONFIG });
  if (config.kafka.brokers.length === 0)
    throw new Error('--topic needs Kafka brokers: set kafka.brokers in the configuration or AUTHWATCH_KAFKA_BROKERS.');
  const client = createKafkaClient(config.kafka);
  await client.createTopics([{ name: topic, partitions: config.kafka.topic_partitions }]);
  const producer: KafkaProducer = await client.producer();
  return {
    async records(lines, keys) {
      const records: OutgoingRecord[] = lines.map((value, i) => ({ key: keys[i]!, value }));
      await producer.send([{ topic, records }]);
    },
    async close() {
      await producer.close();
      await client.close();
    },
  };
}
