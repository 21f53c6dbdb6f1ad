import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join as joinPath, resolve } from 'node:path';
import { createClickhouseClient, type ClickhouseClient } from '../clickhouse/clickhouseClient.js';
import { ident, sql, Sql } from '../clickhouse/sql.js';
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

/** The tables of database `db` in a store: asked, never created (the store may be another process's, answering reads only). */
export async function tablesOf(store: ClickHouseStore, db: string): Promise<Set<string>> {
  const rows = await store.query<{ name: string }>(sql`SELECT name FROM system.tables WHERE database = ${db}`);
  return new Set(rows.map((t) => t.name));
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
    return this.client.insert(sql`${ident(db)}.${ident(table)}`, rows);
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

async function openEmbedded(path: string): Promise<ClickHouseStore> {
  try {
    await import('chdb'); // can it load here at all?
  } catch (err) {
    return new FileStore(path, `chDB could not be loaded here (${(err as Error).message.split('\n')[0]})`);
  }
  await mkdir(path, { recursive: true });
  // chDB runs in a process of its own, whose standard input is /dev/null (see embeddedHost.ts).
  const host = fork(hostScript(), [path], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
    // Not the parent's flags: --inspect or --cpu-prof there must not start a second one here.
    execArgv: [],
  });
  const first = await new Promise<{ ready: boolean; message?: string }>((resolve) => {
    host.once('message', (m) => resolve(m as { ready: boolean; message?: string }));
    host.once('exit', (code) => resolve({ ready: false, message: `the embedded engine's process exited (${code})` }));
  });
  if (!first.ready) {
    host.kill();
    // chDB reports a folder locked by another process only on stderr; the error says "Failed
    // to create connection", which a locked folder is by far the most common cause of.
    throw new ServiceError(
      'clickhouse',
      `The embedded store in ${path} could not be opened (${first.message}). Most often another process, such as a running \`authwatch run\`, holds it: one process at a time can. Ask that process instead (\`authwatch query --url http://127.0.0.1:PORT\`, its server port), or set clickhouse.path to another folder.`,
    );
  }
  return new EmbeddedStore(host, path);
}

/** The compiled host beside this module; from the TypeScript sources (tests), the build's. */
function hostScript(): string {
  const beside = fileURLToPath(new URL('./embeddedHost.js', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../dist/store/embeddedHost.js', import.meta.url));
}

interface HostReply {
  id: number;
  ok: boolean;
  text?: string;
  message?: string;
}

class EmbeddedStore implements ClickHouseStore {
  readonly kind = 'embedded';
  private caps: Capabilities | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();
  private exited: string | undefined;

  constructor(
    private readonly host: ChildProcess,
    readonly location: string,
  ) {
    host.on('message', (m: HostReply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.text ?? '');
      else w.reject(new Error(m.message));
    });
    host.on('exit', (code, signal) => {
      this.exited = `the embedded engine's process ended (${signal ?? code})`;
      for (const w of this.waiting.values()) w.reject(new Error(this.exited));
      this.waiting.clear();
    });
    // It must not keep authwatch alive on its own.
    host.unref();
    host.channel?.unref();
  }

  private async call(what: string, request: Record<string, unknown>): Promise<string> {
    try {
      if (this.exited) throw new Error(this.exited);
      const id = this.nextId++;
      this.host.channel?.ref();
      return await new Promise<string>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject });
        this.host.send({ id, ...request });
      });
    } catch (err) {
      // The embedded engine fails only on the statement itself (no network): never retriable.
      throw new ServiceError('clickhouse', `Embedded ClickHouse: could not ${what}: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      if (this.waiting.size === 0) this.host.channel?.unref();
    }
  }

  async capabilities(): Promise<Capabilities> {
    if (!this.caps) {
      const [row] = await this.query<{ v: string }>(new Sql('SELECT version() AS v'));
      this.caps = capabilitiesOf(row?.v ?? '0');
    }
    return this.caps;
  }

  async command(statement: Sql): Promise<void> {
    await this.call('run a statement', { op: 'query', sql: statement.text });
  }

  async insert(db: string, table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    for (const name of [db, table]) ident(name); // checks both names; chDB takes them unquoted
    const target = `${db}.${table}`;
    // Serialised here in one go: chDB's own conversion of row objects is several times slower.
    let text = '';
    for (const r of rows) text += `${JSON.stringify(r)}\n`;
    await this.call(`insert into ${target}`, { op: 'insert', table: target, text });
  }

  async query<T>(statement: Sql): Promise<T[]> {
    const text = await this.queryText(statement, 'JSONEachRow');
    const rows: T[] = [];
    for (const line of text.split('\n')) if (line.length > 0) rows.push(JSON.parse(line) as T);
    return rows;
  }

  queryText(statement: Sql, format: string): Promise<string> {
    return this.call('run a query', { op: 'query', sql: statement.text, format });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.host.once('exit', () => resolve()));
    this.host.ref(); // keeps authwatch alive until the engine has closed its folder
    await this.call('close', { op: 'close' }).catch(() => undefined);
    await gone;
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
