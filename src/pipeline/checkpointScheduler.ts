import type { Engine, SnapshotInProgress } from '../engine/engine.js';
import type { Logger } from '../log/logger.js';
import { JOURNAL_SLOTS, type Checkpoint } from '../state/checkpointStore.js';

/**
 * How long the engine writes its snapshot at a time, in steps of how many groups, and how
 * often while batches keep coming: a fifth of the time at most, so a checkpoint of a large
 * state adds milliseconds to detection, not the whole time it takes. When idle it writes on.
 */
const SLICE_NS = 2_000_000n;
const STEP_GROUPS = 100;
const SLICE_EVERY_NS = 10_000_000n;

interface InProgress {
  seq: number;
  positions: Record<string, number>;
  createdAt: number;
  snapshot: SnapshotInProgress;
  started: bigint;
  busyNs: bigint;
  lastSlice: bigint;
}

/**
 * When the engine is checkpointed, and its snapshot written a slice at a time between batches.
 *
 * A checkpoint begins at a batch boundary once the interval has passed and batches were
 * processed since the last one (or when the journal would outgrow its ring); from then on the
 * engine copies a group before changing it, so the snapshot is the state at that boundary
 * however long writing it takes. Only one checkpoint is in the making or waiting to be stored
 * at a time.
 */
export class CheckpointScheduler {
  /** The newest checkpoint stored: after which batch, when, how large. */
  stored: { seq: number; at: number; bytes: number } | undefined;
  private inProgress: InProgress | undefined;
  private waiting = 0;
  /** The batch the newest checkpoint (stored, waiting or in the making) was taken after. */
  private takenAfter = -1;
  private lastBegun: number;

  constructor(
    private readonly engine: Engine,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {
    this.lastBegun = now();
  }

  /** The engine was restored from `c`: the next checkpoint is due an interval from now. */
  restoredFrom(c: Checkpoint): void {
    this.takenAfter = c.seq;
    this.stored = { seq: c.seq, at: c.createdAt, bytes: 0 };
  }

  /** When the next checkpoint falls due, wall-clock ms. */
  get dueAt(): number {
    return this.lastBegun + this.intervalMs;
  }

  get writing(): boolean {
    return this.inProgress !== undefined;
  }

  /** Begins a checkpoint after batch `seq` if one is due. */
  maybeBegin(seq: number, positions: () => Record<string, number>): void {
    if (this.inProgress || this.waiting > 0 || seq === this.takenAfter) return;
    const due = this.now() >= this.dueAt;
    const journalFull = seq - (this.stored?.seq ?? 0) >= JOURNAL_SLOTS / 2;
    if (!due && !journalFull) return;
    this.lastBegun = this.now();
    this.takenAfter = seq;
    this.inProgress = {
      seq,
      positions: positions(),
      createdAt: this.now(),
      snapshot: this.engine.beginSnapshot(),
      started: process.hrtime.bigint(),
      busyNs: 0n,
      lastSlice: 0n,
    };
  }

  /**
   * Writes the snapshot in the making for a slice of time (while batches flow, at most one slice
   * every SLICE_EVERY_NS); returns the checkpoint to store once it is complete.
   */
  step(idle: boolean): Checkpoint | undefined {
    const s = this.inProgress;
    if (!s) return undefined;
    const start = process.hrtime.bigint();
    if (!idle && start - s.lastSlice < SLICE_EVERY_NS) return undefined;
    s.lastSlice = start;
    let done = false;
    while (!done && process.hrtime.bigint() - start < SLICE_NS) done = s.snapshot.step(STEP_GROUPS);
    s.busyNs += process.hrtime.bigint() - start;
    return done ? this.finish() : undefined;
  }

  /**
   * The checkpoint after batch `seq`, at once (on stop, or to retire a journal that cannot be
   * replayed); undefined when the newest one is already after `seq` and `force` is not set.
   */
  takeNow(seq: number, positions: () => Record<string, number>, force = false): Checkpoint | undefined {
    if (this.inProgress?.seq === seq) return this.finish();
    if (!force && !this.inProgress && seq === this.takenAfter) return undefined;
    this.inProgress?.snapshot.abandon();
    this.inProgress = undefined;
    this.lastBegun = this.now();
    this.takenAfter = seq;
    this.waiting++;
    return { seq, positions: positions(), state: this.engine.beginSnapshot().text(), createdAt: this.now() };
  }

  /** The writer stored `c`. */
  storedCheckpoint(c: Checkpoint, bytes: number): void {
    this.waiting--;
    this.stored = { seq: c.seq, at: c.createdAt, bytes };
  }

  /** Seconds since the newest stored checkpoint; 0 while it covers batch `seq` and all before. */
  ageSeconds(seq: number): number | undefined {
    const s = this.stored;
    if (!s) return undefined;
    return s.seq === seq ? 0 : (this.now() - s.at) / 1000;
  }

  private finish(): Checkpoint {
    const s = this.inProgress!;
    const start = process.hrtime.bigint();
    this.inProgress = undefined;
    this.waiting++;
    const state = s.snapshot.text();
    this.logger.debug(
      {
        seq: s.seq,
        chars: state.length,
        busy_ms: Number(s.busyNs + process.hrtime.bigint() - start) / 1e6,
        elapsed_ms: Number(process.hrtime.bigint() - s.started) / 1e6,
      },
      'Engine state snapshotted for a checkpoint.',
    );
    return { seq: s.seq, positions: s.positions, state, createdAt: s.createdAt };
  }
}
