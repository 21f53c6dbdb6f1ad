import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, type Config } from '../../src/config/config.js';

const run = promisify(execFile);

/**
 * The services integration tests talk to: the ones `scripts/services.sh` starts, unless
 * AUTHWATCH_KAFKA_BROKERS / AUTHWATCH_CLICKHOUSE_URL point elsewhere.
 */
export function testConfig(): Config {
  const config = loadConfig({
    env: {
      AUTHWATCH_KAFKA_BROKERS: process.env.AUTHWATCH_KAFKA_BROKERS ?? '127.0.0.1:9092',
      AUTHWATCH_CLICKHOUSE_URL: process.env.AUTHWATCH_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
    },
  });
  return config;
}

/** A name no other test (or earlier run) uses: fresh topics, groups and tables per test. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A Kafka broker or ClickHouse server of a test's own, started and stopped by the project's
 * script in a folder of its own on free ports, so stopping it disturbs no other test.
 */
export class OwnService {
  readonly dir = mkdtempSync(join(tmpdir(), 'authwatch-service-'));
  port = 0;
  private env: NodeJS.ProcessEnv = {};

  constructor(private readonly kind: 'kafka' | 'clickhouse') {}

  async start(): Promise<void> {
    if (this.port === 0) {
      this.port = await freePort();
      const second = String(await freePort());
      this.env = {
        ...process.env,
        AUTHWATCH_SERVICES_DIR: this.dir,
        ...(this.kind === 'kafka'
          ? { AUTHWATCH_SERVICES_KAFKA_PORT: String(this.port), AUTHWATCH_SERVICES_KAFKA_CONTROLLER_PORT: second }
          : {
              AUTHWATCH_SERVICES_CLICKHOUSE_HTTP_PORT: String(this.port),
              AUTHWATCH_SERVICES_CLICKHOUSE_TCP_PORT: second,
            }),
      };
    }
    await run('bash', ['scripts/services.sh', 'start', this.kind], { env: this.env });
  }

  async stop(): Promise<void> {
    await run('bash', ['scripts/services.sh', 'stop', this.kind], { env: this.env });
  }

  /** Stops it and removes its folder. */
  async remove(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Holds a fixed port for one test across test files (the embedded store's SQL port 9464, which
 * `npm start` and the README's examples use as a user would): waits, up to three minutes, while
 * another test holds it. Returns the release. A lock older than ten minutes is a crashed run's.
 */
export function lockPort(port: number): () => void {
  const lock = join(tmpdir(), `authwatch-test-port-${port}.lock`);
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if ((statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) < Date.now() - 600_000)
        rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Port ${port} stayed held by another test (${lock}).`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}
