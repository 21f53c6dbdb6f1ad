import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { createGzip, gunzip } from 'node:zlib';

/** The records of one partition that a batch took: offsets `first` to `last`, both included. */
export interface BatchRange {
  topic: string;
  partition: number;
  first: number;
  last: number;
}

/**
 * Which records batch `seq` held. The engine takes them in an order that is a function of the
 * records alone (see `mergeOrder`), so replaying the journal after a crash rebuilds exactly the
 * batches whose outputs may already have been published, and gives the same alert ids.
 */
export interface JournalEntry {
  seq: number;
  /** The records of the batch; none for a release by the wall clock while the input was idle. */
  ranges: BatchRange[];
  /** The wall time the engine's clock read for the batch, so a replay decides alike. */
  clock?: number;
}

/** The engine's state after batch `seq`, with the input positions that state reflects. */
export interface Checkpoint {
  seq: number;
  /** `topic/partition` → the offset of the next record to process. */
  positions: Record<string, number>;
  /** The engine snapshot, as JSON text. */
  state: string;
  /** Wall-clock time of the checkpoint, epoch ms. */
  createdAt: number;
}

/** What a store holds for a task: the newest complete checkpoint and the journal after it, in order. */
export interface StoredState {
  checkpoint?: Checkpoint;
  journal: JournalEntry[];
  /** Checkpoints found but unusable (incomplete, corrupt), with why; an older one was used. */
  problems: string[];
}

/**
 * Durable state of one pipeline task (the engine of one consumer group): checkpoints of the
 * engine's window state with the input positions they reflect, and the journal of the batches
 * processed since. Contract: `appendJournal` and `saveCheckpoint` resolve once durable; calls
 * do not overlap; after `saveCheckpoint(c)` resolved, `load` returns `c` (or a newer one) and
 * the journal entries after `c.seq` that were appended; a checkpoint that was being written
 * when the process died is never returned half-written: `load` falls back to the one before.
 */
export interface CheckpointStore {
  load(): Promise<StoredState>;
  appendJournal(entries: JournalEntry[]): Promise<void>;
  /** Returns the stored size in bytes (compressed). */
  saveCheckpoint(checkpoint: Checkpoint): Promise<number>;
}

/**
 * Journal entries are kept in a ring of this many slots per task; the pipeline checkpoints
 * before the entries since the last checkpoint could fill half of it.
 */
export const JOURNAL_SLOTS = 65536;

const gunzipAsync = promisify(gunzip);

/** Characters of state turned into bytes at a time, between which the event loop runs. */
const ENCODE_CHARS = 1 << 20;

/**
 * A checkpoint's state as stored: gzip, with its hash. The text goes to the compressor a
 * megabyte at a time (compression itself runs on the thread pool), so encoding a state of
 * tens of megabytes never holds the event loop for long.
 */
export async function encodeState(state: string): Promise<{ bytes: Buffer; sha256: string }> {
  const gz = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gz.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = once(gz, 'end');
  for (let i = 0; i < state.length; i += ENCODE_CHARS) {
    // Cut between UTF-16 surrogates would break a character in two; cut one before instead.
    let end = Math.min(state.length, i + ENCODE_CHARS);
    const code = state.charCodeAt(end - 1);
    if (end < state.length && code >= 0xd800 && code <= 0xdbff) end--;
    if (!gz.write(Buffer.from(state.slice(i, end), 'utf8'))) await once(gz, 'drain');
    i = end - ENCODE_CHARS;
    await new Promise((r) => setImmediate(r));
  }
  gz.end();
  await ended;
  const bytes = Buffer.concat(out);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export async function decodeState(bytes: Buffer, sha256: string): Promise<string> {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) throw new Error(`its hash is ${actual.slice(0, 12)}…, not ${sha256.slice(0, 12)}…`);
  return (await gunzipAsync(bytes)).toString('utf8');
}

/** The journal entries that continue a checkpoint: sequence numbers after it, without a gap. */
export function journalAfter(entries: Iterable<JournalEntry>, seq: number): JournalEntry[] {
  const bySeq = new Map<number, JournalEntry>();
  for (const e of entries) if (e.seq > seq) bySeq.set(e.seq, e);
  const out: JournalEntry[] = [];
  for (let next = seq + 1; bySeq.has(next); next++) out.push(bySeq.get(next)!);
  return out;
}

/**
 * The store of the match stage, which keeps no state of its own: nothing is checkpointed or
 * journaled, and a member taking input partitions over starts at the group's committed
 * offsets (committed once the batches before them were written, hits included). Re-read
 * records send their hits again; the correlate stage drops those by input offset.
 */
export class NoCheckpointStore implements CheckpointStore {
  load(): Promise<StoredState> {
    return Promise.resolve({ journal: [], problems: [] });
  }

  appendJournal(): Promise<void> {
    return Promise.resolve();
  }

  saveCheckpoint(): Promise<number> {
    return Promise.resolve(0);
  }
}
