import type { KafkaClient, KafkaProducer, KafkaRecord } from '../kafka/kafkaClient.js';
import {
  JOURNAL_SLOTS,
  decodeState,
  encodeState,
  journalAfter,
  type Checkpoint,
  type CheckpointStore,
  type JournalEntry,
  type StoredState,
} from './checkpointStore.js';

/** Bytes of state per message: well below the brokers' default limit of 1 MB per record batch. */
export const CHUNK_BYTES = 512 * 1024;

interface CheckpointMeta {
  version: 1;
  seq: number;
  positions: Record<string, number>;
  created_at: number;
  chunks: number;
  bytes: number;
  sha256: string;
}

/**
 * A CheckpointStore on a compacted Kafka topic, so that any instance of the group can take
 * over. Keys, under `authwatch/v1/<task>/`:
 *
 * - `journal/<seq mod JOURNAL_SLOTS>`: a journal entry (JSON);
 * - `checkpoint/<slot>/<i>`: chunk i of a checkpoint's gzipped state, slot alternating 0 and 1;
 * - `checkpoint/<slot>`: that checkpoint's metadata (JSON), written after all its chunks.
 *
 * Alternating slots keep the previous checkpoint whole while the next one is written: a crash
 * mid-write leaves a slot whose metadata is older than its chunks, which `load` detects by
 * hash and skips. Compaction keeps the newest value of each key, so the topic stays at about
 * two checkpoints and the journal ring per task.
 */
export class KafkaCheckpointStore implements CheckpointStore {
  private readonly prefix: string;
  private slot: number | undefined;

  /**
   * @param producer writes the journal (it may be the sinks' producer: journal entries are
   *   written in order with the batches' outputs);
   * @param checkpoints writes checkpoints, concurrently with the journal: a producer of its own,
   *   as one idempotent producer must not have two writes to a partition in flight.
   */
  constructor(
    private readonly client: KafkaClient,
    private readonly producer: KafkaProducer,
    private readonly topic: string,
    task: string,
    private readonly checkpoints: KafkaProducer = producer,
  ) {
    this.prefix = `authwatch/v1/${task}/`;
  }

  async load(): Promise<StoredState> {
    const latest = new Map<string, KafkaRecord>();
    await this.client.readToEnd(this.topic, (record) => {
      const key = record.key?.toString('utf8');
      if (key?.startsWith(this.prefix)) latest.set(key.slice(this.prefix.length), record);
    });
    const problems: string[] = [];
    const candidates: { slot: number; meta: CheckpointMeta }[] = [];
    for (const slot of [0, 1]) {
      const value = latest.get(`checkpoint/${slot}`)?.value;
      if (!value) continue;
      try {
        candidates.push({ slot, meta: JSON.parse(value.toString('utf8')) as CheckpointMeta });
      } catch {
        problems.push(`checkpoint slot ${slot}: its metadata is not JSON`);
      }
    }
    candidates.sort((a, b) => b.meta.seq - a.meta.seq);
    let checkpoint: Checkpoint | undefined;
    for (const { slot, meta } of candidates) {
      try {
        const chunks: Buffer[] = [];
        for (let i = 0; i < meta.chunks; i++) {
          const chunk = latest.get(`checkpoint/${slot}/${i}`)?.value;
          if (!chunk) throw new Error(`chunk ${i} of ${meta.chunks} is missing`);
          chunks.push(chunk);
        }
        const state = await decodeState(Buffer.concat(chunks), meta.sha256);
        checkpoint = { seq: meta.seq, positions: meta.positions, state, createdAt: meta.created_at };
        this.slot = slot;
        break;
      } catch (err) {
        problems.push(`checkpoint ${meta.seq} (slot ${slot}): ${(err as Error).message}`);
      }
    }
    const journal: JournalEntry[] = [];
    for (const [key, record] of latest) {
      if (!key.startsWith('journal/') || !record.value) continue;
      try {
        journal.push(JSON.parse(record.value.toString('utf8')) as JournalEntry);
      } catch {
        problems.push(`journal entry ${key}: not JSON`);
      }
    }
    return { checkpoint, journal: journalAfter(journal, checkpoint?.seq ?? 0), problems };
  }

  async appendJournal(entries: JournalEntry[]): Promise<void> {
    await this.producer.send([
      {
        topic: this.topic,
        records: entries.map((e) => ({
          key: `${this.prefix}journal/${e.seq % JOURNAL_SLOTS}`,
          value: JSON.stringify(e),
        })),
      },
    ]);
  }

  async saveCheckpoint(c: Checkpoint): Promise<number> {
    const slot = this.slot === 0 ? 1 : 0;
    const { bytes, sha256 } = await encodeState(c.state);
    const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
    // One chunk per request: the brokers limit a partition's record batch, not just a record.
    for (let i = 0; i < chunks; i++) {
      await this.checkpoints.send([
        {
          topic: this.topic,
          records: [
            {
              key: `${this.prefix}checkpoint/${slot}/${i}`,
              value: bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES),
            },
          ],
        },
      ]);
    }
    const meta: CheckpointMeta = {
      version: 1,
      seq: c.seq,
      positions: c.positions,
      created_at: c.createdAt,
      chunks,
      bytes: bytes.length,
      sha256,
    };
    await this.checkpoints.send([
      { topic: this.topic, records: [{ key: `${this.prefix}checkpoint/${slot}`, value: JSON.stringify(meta) }] },
    ]);
    this.slot = slot;
    return bytes.length;
  }
}
