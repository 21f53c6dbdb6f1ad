import { describe, expect, it } from 'vitest';
import type { Action, Alert } from '../../../src/engine/alert.js';
import type { DeadLetter } from '../../../src/events/deadLetter.js';
import type { KafkaProducer, OutgoingRecord } from '../../../src/kafka/kafkaClient.js';
import { KafkaSink, SCHEMA_HEADERS } from '../../../src/sinks/kafkaSink.js';
import { KEY_ID_HEADER, SIGNATURE_HEADER, verify } from '../../../src/sinks/signature.js';

class RecordingProducer implements KafkaProducer {
  readonly requests: { topic: string; records: OutgoingRecord[] }[][] = [];
  send(batches: { topic: string; records: OutgoingRecord[] }[]): Promise<void> {
    this.requests.push(batches);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const TOPICS = { alerts: 'a', actions: 'x', dlq: 'd' };

function alert(id: string, group: Record<string, string> = {}): Alert {
  return {
    alert_id: id.padEnd(32, '0'),
    rule_id: 'rule-1',
    rule_title: 'Rule',
    rule_type: Object.keys(group).length > 0 ? 'event_count' : 'detection',
    level: 'high',
    tags: [],
    mode: 'monitor',
    group,
    entities: { ip: '203.0.113.9' },
    first_seen: 1,
    last_seen: 2,
    detected_at: 2,
    event_count: 1,
    event_ids: [`event-${id}`],
  };
}

const action: Action = {
  action_id: 'b'.repeat(32),
  alert_id: 'a'.repeat(32),
  type: 'block_ip',
  target: { kind: 'ip', value: '203.0.113.9' },
  parameters: { duration_ms: 60_000 },
  mode: 'dry_run',
  created_at: 2,
  expires_at: 60_002,
};

function letter(bytes: number): DeadLetter {
  return {
    reason: 'invalid_json',
    message: 'not JSON',
    source: 'kafka:in',
    position: { topic: 'in', partition: 2, offset: '41' },
    received_at: 3,
    original_base64: Buffer.alloc(bytes, 120).toString('base64'),
    original_bytes: bytes,
    original_sha256: 'f'.repeat(64),
    truncated: false,
  };
}

describe('KafkaSink', () => {
  it('keys alerts by rule and group, actions by target, dead letters by position, with schema headers', async () => {
    const producer = new RecordingProducer();
    const sink = new KafkaSink(producer, { topics: TOPICS, maxBatchBytes: 900_000 });
    await sink.write({
      alerts: [alert('1', { ip: '203.0.113.9', client: 'web' }), alert('2')],
      actions: [action],
      deadLetters: [letter(10)],
    });
    expect(producer.requests).toHaveLength(1);
    const byTopic = Object.fromEntries(producer.requests[0]!.map((b) => [b.topic, b.records]));
    expect(byTopic.a!.map((r) => r.key)).toEqual(['rule-1|203.0.113.9|web', 'rule-1|event-2']);
    expect(byTopic.x!.map((r) => r.key)).toEqual(['ip:203.0.113.9']);
    expect(byTopic.d!.map((r) => r.key)).toEqual(['in/2/41']);
    expect(byTopic.a![0]!.headers).toEqual({
      'content-type': 'application/json',
      'authwatch-schema': SCHEMA_HEADERS.alert,
    });
    expect(byTopic.x![0]!.headers!['authwatch-schema']).toBe(SCHEMA_HEADERS.action);
    expect(byTopic.d![0]!.headers!['authwatch-schema']).toBe(SCHEMA_HEADERS.deadLetter);
    expect(JSON.parse(String(byTopic.a![0]!.value))).toEqual(alert('1', { ip: '203.0.113.9', client: 'web' }));
  });

  it('splits a large write into requests under the byte limit, in order', async () => {
    const producer = new RecordingProducer();
    const sink = new KafkaSink(producer, { topics: TOPICS, maxBatchBytes: 4096 });
    const alerts = Array.from({ length: 40 }, (_, i) => alert(String(i).padStart(2, '0')));
    await sink.write({ alerts, actions: [], deadLetters: [] });
    expect(producer.requests.length).toBeGreaterThan(3);
    for (const request of producer.requests) {
      const bytes = request
        .flatMap((b) => b.records)
        .reduce((n, r) => n + String(r.value).length + String(r.key).length, 0);
      expect(bytes).toBeLessThanOrEqual(4096);
    }
    const ids = producer.requests.flatMap((r) =>
      r.flatMap((b) => b.records.map((x) => (JSON.parse(String(x.value)) as Alert).alert_id)),
    );
    expect(ids).toEqual(alerts.map((a) => a.alert_id));
  });

  it('cuts the original bytes of a dead letter that would not fit, keeping its size and hash', async () => {
    const producer = new RecordingProducer();
    const sink = new KafkaSink(producer, { topics: TOPICS, maxBatchBytes: 100_000 });
    await sink.write({ alerts: [], actions: [], deadLetters: [letter(300_000)] });
    const record = producer.requests[0]![0]!.records[0]!;
    expect(String(record.value).length).toBeLessThan(100_000);
    const sent = JSON.parse(String(record.value)) as DeadLetter;
    expect(sent).toMatchObject({ truncated: true, original_bytes: 300_000, original_sha256: 'f'.repeat(64) });
    const kept = Buffer.from(sent.original_base64, 'base64');
    expect(kept.length).toBeGreaterThan(50_000);
    expect(kept.every((b) => b === 120)).toBe(true);
  });

  it('reports the failure of its last write as its health, and recovers with the next', async () => {
    let fail = true;
    const producer: KafkaProducer = {
      send: () => (fail ? Promise.reject(new Error('broker down')) : Promise.resolve()),
      close: () => Promise.resolve(),
    };
    const sink = new KafkaSink(producer, { topics: TOPICS, maxBatchBytes: 100_000 });
    await expect(sink.write({ alerts: [alert('1')], actions: [], deadLetters: [] })).rejects.toThrow('broker down');
    expect(await sink.healthcheck()).toEqual({ ok: false, detail: 'broker down' });
    fail = false;
    await sink.write({ alerts: [alert('1')], actions: [], deadLetters: [] });
    expect(await sink.healthcheck()).toEqual({ ok: true });
  });
});

describe('KafkaSink signing', () => {
  const KEY = 'k'.repeat(32);

  it('signs alerts and actions (not dead letters) with the time of the batch and the key id', async () => {
    const producer = new RecordingProducer();
    const sink = new KafkaSink(producer, {
      topics: TOPICS,
      maxBatchBytes: 1_000_000,
      signing: { key: KEY, keyId: '2026-11' },
      now: () => 1_767_000_000_000,
    });
    await sink.write({ alerts: [alert('1')], actions: [action], deadLetters: [letter(10)] });
    const byTopic = new Map(producer.requests.flat().map((b) => [b.topic, b.records[0]!]));
    for (const topic of ['a', 'x']) {
      const record = byTopic.get(topic)!;
      expect(record.headers![SIGNATURE_HEADER]).toMatch(/^t=1767000000000,v1=[0-9a-f]{64}$/);
      expect(record.headers![KEY_ID_HEADER]).toBe('2026-11');
      expect(
        verify(KEY, record.value as string, record.headers![SIGNATURE_HEADER], { now: 1_767_000_001_000 }),
      ).toEqual({
        ok: true,
        time: 1_767_000_000_000,
      });
    }
    expect(byTopic.get('d')!.headers![SIGNATURE_HEADER]).toBeUndefined();
  });

  it('adds no signature without a key', async () => {
    const producer = new RecordingProducer();
    await new KafkaSink(producer, { topics: TOPICS, maxBatchBytes: 1_000_000 }).write({
      alerts: [alert('1')],
      actions: [action],
      deadLetters: [],
    });
    for (const r of producer.requests.flat().flatMap((b) => b.records))
      expect(r.headers).toEqual({ 'content-type': 'application/json', 'authwatch-schema': expect.any(String) });
  });
});
