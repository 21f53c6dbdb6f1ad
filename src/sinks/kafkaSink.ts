import type { Action, Alert } from '../engine/alert.js';
import type { DeadLetter } from '../events/deadLetter.js';
import type { KafkaProducer, OutgoingRecord } from '../kafka/kafkaClient.js';
import { KEY_ID_HEADER, SIGNATURE_HEADER, sign } from './signature.js';
import type { Sink, SinkBatch, SinkHealth } from './sink.js';

/** The `authwatch-schema` header of each topic's records: the JSON Schema they follow, and its version. */
export const SCHEMA_HEADERS = {
  alert: 'authwatch.alert.v1',
  action: 'authwatch.action.v1',
  deadLetter: 'authwatch.dead_letter.v1',
} as const;

export interface KafkaSinkOptions {
  topics: { alerts: string; actions: string; dlq: string };
  /** Most bytes of keys and values in one produce request; larger writes are split. */
  maxBatchBytes: number;
  /** Signs alerts and actions (HMAC-SHA256 with a timestamp) so consumers can verify them. */
  signing?: { key: string; keyId?: string };
  /** The signing time (default: the wall clock). */
  now?: () => number;
}

/**
 * Alerts, actions and dead letters to their Kafka topics, through an idempotent producer with
 * acks=all. Keys keep what belongs together in one partition, in order:
 *
 * - alerts: the rule id and the group-by values (for a single-event rule, which has no group,
 *   the id of the event it matched);
 * - actions: the target kind and value, so an enforcer sees every action on one target in order;
 * - dead letters: where the record came from (topic/partition/offset, or source:line).
 *
 * Every record carries `content-type: application/json` and `authwatch-schema`. With a signing
 * key, alerts and actions also carry `authwatch-signature` (`t=<epoch ms>,v1=<hex>`, an
 * HMAC-SHA256 of the time, a dot and the value; `signature.ts` verifies it) and, when the key
 * has an id, `authwatch-key-id`.
 */
export class KafkaSink implements Sink {
  readonly name = 'kafka';
  private health: SinkHealth = { ok: true };

  constructor(
    private readonly producer: KafkaProducer,
    private readonly options: KafkaSinkOptions,
  ) {}

  async write(batch: SinkBatch): Promise<void> {
    const { topics, maxBatchBytes } = this.options;
    const records: { topic: string; record: OutgoingRecord; bytes: number }[] = [];
    const add = (topic: string, record: OutgoingRecord & { key: string; value: string }): void => {
      records.push({ topic, record, bytes: Buffer.byteLength(record.value) + Buffer.byteLength(record.key) + 96 });
    };
    const signed = this.signer();
    for (const a of batch.alerts) add(topics.alerts, signed(alertRecord(a)));
    for (const a of batch.actions) add(topics.actions, signed(actionRecord(a)));
    for (const d of batch.deadLetters) add(topics.dlq, deadLetterRecord(d, maxBatchBytes));
    try {
      // Requests in order, one at a time: the idempotent producer numbers each partition's
      // records, and concurrent requests to one partition would break the numbering.
      for (let start = 0; start < records.length;) {
        let end = start;
        let bytes = 0;
        while (end < records.length && (end === start || bytes + records[end]!.bytes <= maxBatchBytes)) {
          bytes += records[end]!.bytes;
          end++;
        }
        await this.producer.send(groupByTopic(records.slice(start, end)));
        start = end;
      }
      this.health = { ok: true };
    } catch (err) {
      this.health = { ok: false, detail: (err as Error).message };
      throw err;
    }
  }

  /** Adds the signature headers to a record, when there is a key; one signing time per batch. */
  private signer(): <R extends OutgoingRecord & { value: string }>(record: R) => R {
    const signing = this.options.signing;
    if (!signing) return (record) => record;
    const time = (this.options.now ?? Date.now)();
    return (record) => {
      const headers: Record<string, string> = {
        ...record.headers,
        [SIGNATURE_HEADER]: sign(signing.key, record.value, time),
      };
      if (signing.keyId) headers[KEY_ID_HEADER] = signing.keyId;
      return { ...record, headers };
    };
  }

  healthcheck(): Promise<SinkHealth> {
    return Promise.resolve(this.health);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function headers(schema: string): Record<string, string> {
  return { 'content-type': 'application/json', 'authwatch-schema': schema };
}

export function alertKey(alert: Alert): string {
  const values = Object.values(alert.group);
  return values.length > 0 ? `${alert.rule_id}|${values.join('|')}` : `${alert.rule_id}|${alert.event_ids[0] ?? ''}`;
}

export function actionKey(action: Action): string {
  return `${action.target.kind}:${action.target.value}`;
}

function alertRecord(alert: Alert): OutgoingRecord & { key: string; value: string } {
  return { key: alertKey(alert), value: JSON.stringify(alert), headers: headers(SCHEMA_HEADERS.alert) };
}

function actionRecord(action: Action): OutgoingRecord & { key: string; value: string } {
  return { key: actionKey(action), value: JSON.stringify(action), headers: headers(SCHEMA_HEADERS.action) };
}

/**
 * A dead letter as one record, its original bytes cut (and marked `truncated`, with the whole
 * record's size and hash kept) when the record would not fit in a produce request.
 */
function deadLetterRecord(letter: DeadLetter, maxBytes: number): OutgoingRecord & { key: string; value: string } {
  const p = letter.position;
  const key = p.topic !== undefined ? `${p.topic}/${p.partition}/${p.offset}` : `${letter.source}:${p.line ?? ''}`;
  let value = JSON.stringify(letter);
  const room = maxBytes - 1024;
  if (value.length > room) {
    const over = value.length - room;
    // base64: 4 characters per 3 bytes, cut on a 4-character boundary.
    const keep = Math.max(0, letter.original_base64.length - over - 4) & ~3;
    value = JSON.stringify({ ...letter, original_base64: letter.original_base64.slice(0, keep), truncated: true });
  }
  return { key, value, headers: headers(SCHEMA_HEADERS.deadLetter) };
}

function groupByTopic(
  records: { topic: string; record: OutgoingRecord }[],
): { topic: string; records: OutgoingRecord[] }[] {
  const map = new Map<string, OutgoingRecord[]>();
  for (const { topic, record } of records) {
    let list = map.get(topic);
    if (!list) map.set(topic, (list = []));
    list.push(record);
  }
  return [...map].map(([topic, list]) => ({ topic, records: list }));
}
