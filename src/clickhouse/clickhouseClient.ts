import { ClickHouseLogLevel, createClient, type ClickHouseClient as Driver } from '@clickhouse/client';
import type { ClickhouseConfig } from '../config/config.js';
import { ServiceError } from '../errors.js';
import type { Sql } from './sql.js';

/**
 * authwatch's view of ClickHouse: statements are `Sql` values (see sql.ts), never strings,
 * and rows travel as JSONEachRow. Everything used here works on ClickHouse 18.16 and on
 * current releases.
 */
export interface ClickhouseClient {
  /** Runs a statement that returns no rows (DDL, ALTER, DROP). */
  command(statement: Sql): Promise<void>;
  /** Inserts rows into `table` (an `ident()` or `db.table` Sql). */
  insert(table: Sql, rows: readonly Record<string, unknown>[]): Promise<void>;
  query<T = Record<string, unknown>>(statement: Sql): Promise<T[]>;
  /** The result as text in a ClickHouse output format. */
  queryText(statement: Sql, format: string): Promise<string>;
  /** True when the server answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function createClickhouseClient(config: ClickhouseConfig): ClickhouseClient {
  if (!config.url) throw new ServiceError('clickhouse', 'No ClickHouse URL is configured (clickhouse.url).');
  const driver = createClient({
    url: config.url,
    username: config.username,
    password: config.password,
    request_timeout: 30_000,
    // Settings that 18.16 does not know would make every request fail; send none.
    clickhouse_settings: {},
    // Failures reach the caller as ServiceErrors; the driver's own console logging would
    // duplicate them outside our structured log.
    log: { level: ClickHouseLogLevel.OFF },
  });
  return new DriverClient(driver);
}

class DriverClient implements ClickhouseClient {
  constructor(private readonly driver: Driver) {}

  async command(statement: Sql): Promise<void> {
    await wrap('run a statement', () => this.driver.command({ query: statement.text }));
  }

  async insert(table: Sql, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await wrap(`insert into ${table.text}`, () =>
      this.driver.insert({ table: table.text, values: rows as Record<string, unknown>[], format: 'JSONEachRow' }),
    );
  }

  async query<T>(statement: Sql): Promise<T[]> {
    return wrap('run a query', async () => {
      const result = await this.driver.query({ query: statement.text, format: 'JSONEachRow' });
      return result.json<T>();
    });
  }

  async queryText(statement: Sql, format: string): Promise<string> {
    return wrap('run a query', async () => {
      const result = await this.driver.query({ query: statement.text, format: format as 'TabSeparated' });
      return result.text();
    });
  }

  async ping(): Promise<boolean> {
    const r = await this.driver.ping();
    return r.success;
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

/** TOO_MANY_SIMULTANEOUS_QUERIES, TIMEOUT_EXCEEDED, MEMORY_LIMIT_EXCEEDED, NETWORK_ERROR, SOCKET_TIMEOUT, TOO_MANY_PARTS */
const RETRIABLE_CODES = new Set([202, 159, 241, 210, 209, 252]);

async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const message = (err as { message?: string }).message ?? String(err);
    // A server-side error (bad SQL, unknown table) carries "Code: N" and is not retriable,
    // except for the server being overloaded; a network failure has none and is.
    // 18.16 writes "Code: 81, e.displayText() = ...", current releases "Code: 81. DB::...".
    const code = /\bCode: (\d+)/.exec(message)?.[1];
    const retriable = code === undefined || RETRIABLE_CODES.has(Number(code));
    throw new ServiceError('clickhouse', `ClickHouse: could not ${what}: ${message}`, {
      retriable,
      cause: err,
    });
  }
}
