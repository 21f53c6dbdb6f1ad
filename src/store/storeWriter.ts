import type { Action, Alert } from '../engine/alert.js';
import { AuthwatchError } from '../errors.js';
import type { AuthEvent } from '../events/authEvent.js';
import type { DetectionStore } from './detectionStore.js';
import type { TableName } from './schema.js';

export interface StoreWriterOptions {
  /** Rows of one table per INSERT at most; a table's buffer is written when it holds this many. */
  maxRows: number;
  /** The longest wait between retries of a write refused for a passing reason. */
  maxBackoffMs: number;
  /** Called before each wait: the error and the wait, for logs. */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** Gives up waiting (a stop requested): the write rejects with the last error. */
  signal?: AbortSignal;
  /** For tests: how to wait. */
  sleep?: (ms: number) => Promise<void>;
}

export interface StoreWriterCounters {
  rows: Record<TableName, number>;
  inserts: number;
  retries: number;
}

/**
 * Writes alerts, actions and (when the store keeps them) events into the store in batches of
 * at most `maxRows` rows per table. A write the database refuses for a passing reason (down,
 * timed out, overloaded, too many parts) is retried with exponential backoff up to
 * `maxBackoffMs` between attempts, for as long as it takes: the caller waits meanwhile, which
 * is what holds the pipeline (backpressure) rather than drop rows. A refusal that cannot pass
 * (bad SQL, a missing table) rejects at once.
 */
export class StoreWriter {
  private readonly buffers: Record<TableName, Record<string, unknown>[]> = { alerts: [], actions: [], events: [] };
  readonly counters: StoreWriterCounters = { rows: { alerts: 0, actions: 0, events: 0 }, inserts: 0, retries: 0 };

  constructor(
    private readonly store: DetectionStore,
    private readonly options: StoreWriterOptions,
  ) {}

  /** Rows waiting in the buffers. */
  get buffered(): number {
    return this.buffers.alerts.length + this.buffers.actions.length + this.buffers.events.length;
  }

  /** Adds output; writes each table whose buffer is full. */
  async add(output: {
    alerts?: readonly Alert[];
    actions?: readonly Action[];
    events?: readonly AuthEvent[];
  }): Promise<void> {
    for (const [table, rows] of this.store.rowsByTable(output)) {
      for (const row of rows) this.buffers[table].push(row);
      await this.flushTable(table, this.options.maxRows);
    }
  }

  /** Writes everything buffered: when this resolves, every row added so far is in the store. */
  async flush(): Promise<void> {
    for (const table of ['events', 'alerts', 'actions'] as const) await this.flushTable(table, 1);
  }

  /** Writes the table's buffer in chunks of maxRows while it holds at least `least` rows. */
  private async flushTable(table: TableName, least: number): Promise<void> {
    const buffer = this.buffers[table];
    while (buffer.length > 0 && buffer.length >= least) {
      const chunk = buffer.slice(0, this.options.maxRows);
      await this.insertWithRetry(table, chunk);
      buffer.splice(0, chunk.length);
      this.counters.rows[table] += chunk.length;
      this.counters.inserts++;
    }
  }

  private async insertWithRetry(table: TableName, rows: Record<string, unknown>[]): Promise<void> {
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.insert(table, rows);
        return;
      } catch (err) {
        if (!(err instanceof AuthwatchError) || !err.retriable || this.options.signal?.aborted) throw err;
        const wait = Math.min(this.options.maxBackoffMs, 100 * 2 ** Math.min(attempt - 1, 20));
        this.counters.retries++;
        this.options.onRetry?.(err, attempt, wait);
        await sleep(wait);
      }
    }
  }
}
