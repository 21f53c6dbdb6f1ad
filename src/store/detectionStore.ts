import type { ClickhouseConfig } from '../config/config.js';
import type { Action, Alert } from '../engine/alert.js';
import type { AuthEvent } from '../events/authEvent.js';
import { parseDuration } from '../time/duration.js';
import { dropExpiredPartitions, migrate, type MigrationResult } from './migrate.js';
import { actionRow, alertRow, eventRow } from './rows.js';
import type { Capabilities, Retention, TableName } from './schema.js';
import { openStore, type ClickHouseStore } from './store.js';

/** What the configuration keeps, in days per table; absent keys take the documented defaults. */
export function retentionOf(config: Pick<ClickhouseConfig, 'retention'>): Retention {
  const days = (text: string | undefined, fallback: number) =>
    text === undefined ? fallback : Math.ceil((parseDuration(text) ?? 0) / 86_400_000);
  return {
    alerts: days(config.retention?.alerts, 365),
    actions: days(config.retention?.actions, 365),
    events: days(config.retention?.events, 30),
  };
}

/**
 * authwatch's tables in a store, ready to write: opened from the configuration, migrated to
 * this build's schema, with old partitions dropped where the server has no TTL.
 */
export class DetectionStore {
  private constructor(
    readonly store: ClickHouseStore,
    readonly database: string,
    readonly caps: Capabilities,
    readonly migration: MigrationResult,
    readonly storesEvents: boolean,
  ) {}

  static async open(config: ClickhouseConfig, options: { version?: string } = {}): Promise<DetectionStore> {
    const store = await openStore(config);
    try {
      return await DetectionStore.on(store, config, options);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  static async on(
    store: ClickHouseStore,
    config: Pick<ClickhouseConfig, 'database' | 'retention' | 'events'>,
    options: { version?: string } = {},
  ): Promise<DetectionStore> {
    const retention = retentionOf(config);
    const migration = await migrate(store, config.database, { retention, version: options.version });
    await dropExpiredPartitions(store, config.database, retention);
    return new DetectionStore(store, config.database, await store.capabilities(), migration, config.events === true);
  }

  /** Rows of one table, inserted in one statement. */
  async insert(table: TableName, rows: readonly Record<string, unknown>[]): Promise<void> {
    await this.store.insert(this.database, table, rows);
  }

  alertRows(alerts: readonly Alert[]): Record<string, unknown>[] {
    return alerts.map((a) => alertRow(a, this.caps));
  }

  actionRows(actions: readonly Action[]): Record<string, unknown>[] {
    return actions.map((a) => actionRow(a, this.caps));
  }

  eventRows(events: readonly AuthEvent[]): Record<string, unknown>[] {
    return events.map((e) => eventRow(e, this.caps));
  }

  /**
   * Output as rows, table by table, in the order to write them: events (when kept), then
   * alerts, then actions, so a reader never meets a reference before what it refers to.
   */
  rowsByTable(output: {
    alerts?: readonly Alert[];
    actions?: readonly Action[];
    events?: readonly AuthEvent[];
  }): Array<[TableName, Record<string, unknown>[]]> {
    return [
      ['events', this.storesEvents && output.events ? this.eventRows(output.events) : []],
      ['alerts', this.alertRows(output.alerts ?? [])],
      ['actions', this.actionRows(output.actions ?? [])],
    ];
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
