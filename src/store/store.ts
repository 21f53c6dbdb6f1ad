import { appendFile, mkdir } from 'node:fs/promises';
import { join as joinPath, resolve } from 'node:path';
import { createClickhouseClient, type ClickhouseClient } from '../clickhouse/clickhouseClient.js';
import { Sql } from '../clickhouse/sql.js';
import type { ClickhouseConfig } from '../config/config.js';
import { ServiceError } from '../errors.js';
import type { Capabilities } from './schema.js';

/**
 * Where authwatch keeps alerts, actions and events: a ClickHouse server over HTTP, or the
 * embedded engine (chDB) in a folder. Both answer the same SQL; the DDL differs only by what
 * `capabilities` reports. When chDB cannot load on a platform, rows go to NDJSON files in the
 * same folder instead, and SQL is refused with the reason.
 */
export interface ClickHouseStore {
  readonly kind: 'server' | 'embedded' | 'files';
  /** The server's URL (no credentials) or the data folder. */
  readonly location: string;
  /** Why the store is files rather than embedded ClickHouse, when it is. */
  readonly fallbackReason?: string;
  capabilities(): Promise<Capabilities>;
  /** A statement without rows (DDL, ALTER, OPTIMIZE). */
  command(statement: Sql): Promise<void>;
  /** Rows as JSON objects into `db.table` (both checked identifiers). */
  insert(db: string, table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  query<T = Record<string, unknown>>(statement: Sql): Promise<T[]>;
  /** The result as text in `format` (a ClickHouse output format) unless the statement names its own. */
  queryText(statement: Sql, format: string): Promise<string>;
  close(): Promise<void>;
}

/** The folder of the embedded store when none is configured: `.authwatch/` in the working directory. */
export const DEFAULT_EMBEDDED_PATH = '.authwatch';

/** The store the configuration names: a server when `clickhouse.url` is set, else embedded. */
export async function openStore(config: ClickhouseConfig): Promise<ClickHouseStore> {
  if (config.url) return new ServerStore(createClickhouseClient(config), redact(config.url));
  return openEmbedded(resolve(config.path ?? DEFAULT_EMBEDDED_PATH));
}

/** A statement the user wrote (`authwatch query`), run as written: nothing of it is built by authwatch. */
export function userStatement(text: string): Sql {
  return new Sql(text);
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Capabilities from a version string: current releases have everything 18.16 lacks. */
export function capabilitiesOf(version: string): Capabilities {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const atLeast = (ma: number, mi: number) => major > ma || (major === ma && minor >= mi);
  return {
    version,
    lowCardinality: atLeast(19, 9),
    dateTime64: atLeast(20, 1),
    ttl: atLeast(19, 6),
    codecs: atLeast(19, 1),
  };
}

class ServerStore implements ClickHouseStore {
  readonly kind = 'server';
  private caps: Capabilities | undefined;
  constructor(
    private readonly client: ClickhouseClient,
    readonly location: string,
  ) {}

  async capabilities(): Promise<Capabilities> {
    if (!this.caps) {
      const [row] = await this.client.query<{ v: string }>(new Sql('SELECT version() AS v'));
      this.caps = capabilitiesOf(row?.v ?? '0');
    }
    return this.caps;
  }

  command(statement: Sql): Promise<void> {
    return this.client.command(statement);
  }

  insert(db: string, table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    return this.client.insert(qualified(db, table), rows);
  }

  query<T>(statement: Sql): Promise<T[]> {
    return this.client.query<T>(statement);
  }

  queryText(statement: Sql, format: string): Promise<string> {
    return this.client.queryText(statement, format);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function qualified(db: string, table: string): Sql {
  const id = /^[A-Za-z_][A-Za-z0-9_]*$/;
  if (!id.test(db) || !id.test(table)) throw new TypeError(`Not a valid table: ${db}.${table}`);
  return new Sql(`\`${db}\`.\`${table}\``);
}

/** The chDB module's surface that authwatch uses. */
interface ChdbSession {
  queryAsync(query: string, opts?: { format?: string }): Promise<{ text(): string }>;
  insert(params: { table: string; values: string; format: 'JSONEachRow' }): Promise<unknown>;
  close(): void;
}

async function openEmbedded(path: string): Promise<ClickHouseStore> {
  let Session: new (path: string, opts: { installSignalHandlers: boolean }) => ChdbSession;
  try {
    ({ Session } = (await import('chdb')) as unknown as { Session: typeof Session });
  } catch (err) {
    return new FileStore(path, `chDB could not be loaded here (${(err as Error).message.split('\n')[0]})`);
  }
  await mkdir(path, { recursive: true });
  let session: ChdbSession;
  try {
    session = new Session(path, { installSignalHandlers: false });
  } catch (err) {
    // chDB reports a folder locked by another process only on stderr; the error says "Failed
    // to create connection", which a locked folder is by far the most common cause of.
    const message = (err as Error).message.split('\n')[0];
    throw new ServiceError(
      'clickhouse',
      `The embedded store in ${path} could not be opened (${message}). Most often another process, such as a running \`authwatch run\`, holds it: one process at a time can. Ask that process instead (\`authwatch query --url http://127.0.0.1:PORT\`, its server port), or set clickhouse.path to another folder.`,
      { cause: err },
    );
  }
  return new EmbeddedStore(session, path);
}

class EmbeddedStore implements ClickHouseStore {
  readonly kind = 'embedded';
  private caps: Capabilities | undefined;
  constructor(
    private readonly session: ChdbSession,
    readonly location: string,
  ) {}

  async capabilities(): Promise<Capabilities> {
    if (!this.caps) {
      const [row] = await this.query<{ v: string }>(new Sql('SELECT version() AS v'));
      this.caps = capabilitiesOf(row?.v ?? '0');
    }
    return this.caps;
  }

  async command(statement: Sql): Promise<void> {
    await embedded('run a statement', () => this.session.queryAsync(statement.text));
  }

  async insert(db: string, table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    qualified(db, table); // checks both names; chDB takes them unquoted
    const target = `${db}.${table}`;
    // Serialised here in one go: chDB's own conversion of row objects is several times slower.
    let text = '';
    for (const r of rows) text += `${JSON.stringify(r)}\n`;
    await embedded(`insert into ${target}`, () =>
      this.session.insert({ table: target, values: text, format: 'JSONEachRow' }),
    );
  }

  async query<T>(statement: Sql): Promise<T[]> {
    const result = await embedded('run a query', () =>
      this.session.queryAsync(statement.text, { format: 'JSONEachRow' }),
    );
    const text = result.text();
    const rows: T[] = [];
    for (const line of text.split('\n')) if (line.length > 0) rows.push(JSON.parse(line) as T);
    return rows;
  }

  async queryText(statement: Sql, format: string): Promise<string> {
    const result = await embedded('run a query', () => this.session.queryAsync(statement.text, { format }));
    return result.text();
  }

  close(): Promise<void> {
    this.session.close();
    return Promise.resolve();
  }
}

async function embedded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // The embedded engine fails only on the statement itself (no network): never retriable.
    throw new ServiceError('clickhouse', `Embedded ClickHouse: could not ${what}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Rows as NDJSON files, one per table, when no SQL engine is available. */
class FileStore implements ClickHouseStore {
  readonly kind = 'files';
  constructor(
    readonly location: string,
    readonly fallbackReason: string,
  ) {}

  capabilities(): Promise<Capabilities> {
    return Promise.resolve({ version: 'files', lowCardinality: false, dateTime64: false, ttl: false, codecs: false });
  }

  command(): Promise<void> {
    return Promise.resolve(); // no schema to keep
  }

  async insert(_db: string, table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await mkdir(this.location, { recursive: true });
    await appendFile(joinPath(this.location, `${table}.ndjson`), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }

  queryText(): Promise<string> {
    return this.query<never>().then(() => '');
  }

  query<T>(): Promise<T[]> {
    return Promise.reject(
      new ServiceError(
        'clickhouse',
        `No SQL here: ${this.fallbackReason}, so rows are kept as NDJSON files in ${this.location}. Configure clickhouse.url to query a ClickHouse server.`,
      ),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
