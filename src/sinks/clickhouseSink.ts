import type { DetectionStore } from '../store/detectionStore.js';
import type { TableName } from '../store/schema.js';
import type { Sink, SinkBatch, SinkHealth } from './sink.js';

/** What the ClickHouse sink has written since start, for /metrics. */
export interface StoreCounters {
  rows: Record<TableName, number>;
  inserts: number;
}

/**
 * Alerts, actions and (when kept) events into the store's tables, server or embedded. A write
 * resolves once every row of the batch is inserted, in chunks of at most `maxRows`: events
 * first, then alerts, then actions, so a reader never meets a reference before what it refers
 * to. A failed write rejects with the store's error, whose `retriable` tells the pipeline to
 * try the whole batch again (holding everything behind it) or to stop; rows a retry inserts a
 * second time collapse by id (ReplacingMergeTree).
 */
export class ClickHouseSink implements Sink {
  readonly name = 'clickhouse';
  readonly counters: StoreCounters = { rows: { alerts: 0, actions: 0, events: 0 }, inserts: 0 };
  private lastError: string | undefined;

  constructor(
    private readonly store: DetectionStore,
    /** `closesStore: false`: the store is shared (by the stages of one process) and its owner closes it. */
    private readonly options: { maxRows: number; closesStore?: boolean },
  ) {}

  async write(batch: SinkBatch): Promise<void> {
    try {
      for (const [table, rows] of this.store.rowsByTable(batch)) {
        for (let i = 0; i < rows.length; i += this.options.maxRows) {
          const chunk = rows.slice(i, i + this.options.maxRows);
          await this.store.insert(table, chunk);
          this.counters.rows[table] += chunk.length;
          this.counters.inserts++;
        }
      }
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  healthcheck(): Promise<SinkHealth> {
    return Promise.resolve(this.lastError ? { ok: false, detail: this.lastError } : { ok: true });
  }

  close(): Promise<void> {
    return this.options.closesStore === false ? Promise.resolve() : this.store.close();
  }
}
