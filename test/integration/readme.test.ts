import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Action, Alert } from '../../src/engine/alert.js';
import { ATTACK_SHAPES } from '../../src/simulate/simulate.js';
import { actionKey, alertKey, SCHEMA_HEADERS } from '../../src/sinks/kafkaSink.js';
import { lockPort } from '../support/services.js';

/**
 * The README, run. Every fenced block is checked in the order written, in one working folder
 * laid out as a checkout (package.json, bin, dist, detections, scripts, …):
 *
 * - `sh` blocks run with bash (`-e -o pipefail`), `npx authwatch` and all, and must exit 0;
 * - a comment `<!-- check: … -->` just before a block says more: `file PATH` writes the block
 *   there; `output` compares the block with what the previous `sh` block printed (`…` stands
 *   for any text within a line, a line of `…` alone for any lines); `exit N` expects that
 *   status; `background` starts the block, waits until its /readyz answers, and stops it with
 *   SIGTERM (expecting exit 0) after the next `sh` block; `kafka record` gives the key and
 *   headers of the JSON block after it; `same as FILE line N[, except KEY, …]` compares a JSON
 *   block with a line the examples wrote (a KEY may be a dotted path to a nested key); `not run, REASON` skips a block, and REASON must
 *   name the test or script that runs it instead;
 * - other `yaml` and `json` blocks must parse.
 */
const README = readFileSync('README.md', 'utf8');
const REPO = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'authwatch-readme-'));
for (const entry of ['package.json', 'node_modules', 'bin', 'dist', 'schemas', 'detections', 'scripts', 'services'])
  symlinkSync(join(REPO, entry), join(work, entry));

// `npx authwatch` runs this checkout's bin, as it does in the repository's folder (where a test
// below runs it for real); npx's own resolution of a package from a folder of links is not ours to test.
const shims = join(work, '.shims');
mkdirSync(shims);
writeFileSync(
  join(shims, 'npx'),
  `#!/bin/sh\nif [ "$1" = authwatch ]; then shift; exec "${process.execPath}" "${join(REPO, 'bin/authwatch.js')}" "$@"; fi\nexec "${npxPath()}" "$@"\n`,
  { mode: 0o755 },
);
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
const env = {
  ...clean,
  PATH: `${shims}:${process.env.PATH ?? ''}`,
  // The services the suite started (scripts/services.sh keeps its state beside the script it ran from).
  AUTHWATCH_SERVICES_DIR: process.env.AUTHWATCH_SERVICES_DIR ?? join(REPO, '.services'),
};

function npxPath(): string {
  const r = spawnSync('bash', ['-c', 'command -v npx'], { encoding: 'utf8' });
  return r.stdout.trim() || 'npx';
}

interface Block {
  lang: string;
  body: string;
  /** The README line the block's fence opens on. */
  line: number;
  check: string | undefined;
}

function blocksOf(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let check: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const comment = /^<!-- check: (.*) -->$/.exec(lines[i]!);
    if (comment) {
      check = comment[1]!.trim();
      continue;
    }
    const fence = /^```(\w*)$/.exec(lines[i]!);
    if (!fence) {
      if (lines[i]!.trim() !== '') check = undefined; // a check applies to the block right after it
      continue;
    }
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && lines[i] !== '```') body.push(lines[i]!);
    blocks.push({ lang: fence[1]!, body: `${body.join('\n')}\n`, line: start + 1, check });
    check = undefined;
  }
  return blocks;
}

/** `expected` with `…` for any text in a line, and a line of `…` alone for any lines. */
function matches(actual: string, expected: string): boolean {
  const pattern = expected
    .trimEnd()
    .split('\n')
    .map((l) => (l === '…' ? '(?:.*\\n)*?' : `${l.split('…').map(escape).join('.*?')}\\n`))
    .join('');
  return new RegExp(`^${pattern}$`).test(`${actual.trimEnd()}\n`);
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Runs a block with bash. Asynchronously: the test runs for most of a minute, and a worker that
 * blocks that long misses the answers of the test runner's own calls (vitest times them out).
 */
function sh(script: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', `exec 2>&1\n${script}`], {
      cwd: work,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output: Buffer.concat(out).toString('utf8') });
    });
  });
}

let background: { child: ChildProcess; output: string[]; exit: Promise<number | null>; line: number } | undefined;
afterAll(() => background?.child.kill('SIGKILL'));

async function startBackground(block: Block): Promise<void> {
  // One command, run in place of the shell (after its variable assignments), so SIGTERM reaches it.
  const command = block.body.trim().replace(/^((?:\w+=\S+\s+)*)/, '$1exec ');
  const child = spawn('bash', ['-e', '-c', `exec 2>&1\n${command}`], { cwd: work, env });
  const output: string[] = [];
  child.stdout!.on('data', (b: Buffer) => output.push(b.toString()));
  const exit = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  background = { child, output, exit, line: block.line };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`README line ${block.line} ended early:\n${output.join('')}`);
    const ready = await fetch('http://127.0.0.1:9464/readyz').then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`README line ${block.line} never became ready:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function stopBackground(): Promise<void> {
  const b = background!;
  background = undefined;
  b.child.kill('SIGTERM');
  const code = await b.exit;
  expect(code, `README line ${b.line}, stopped with SIGTERM:\n${b.output.join('')}`).toBe(0);
}

const ajv = new Ajv({ strict: false });
const validate = (name: string) =>
  ajv.compile(JSON.parse(readFileSync(`schemas/${name}.schema.json`, 'utf8')) as object);
const SCHEMAS: Record<string, ReturnType<typeof validate>> = {
  [SCHEMA_HEADERS.alert]: validate('alert'),
  [SCHEMA_HEADERS.action]: validate('action'),
  [SCHEMA_HEADERS.deadLetter]: validate('dead-letter'),
};

describe('the README, run as written', () => {
  it('does what every example says, in order', async () => {
    const release = lockPort(9464);
    try {
      let last: { output: string; line: number } | undefined;
      let record: { key: string; schema: string; line: number } | undefined;
      let stopAfterNext = false;
      const skipped: string[] = [];
      for (const block of blocksOf(README)) {
        const where = `README.md:${block.line}`;
        const check = block.check ?? '';
        if (check.startsWith('not run')) {
          const reason = /^not run, (.+)$/.exec(check)?.[1] ?? '';
          const named = reason.match(/(?:test\/\S+\.test\.ts|\.ci\/run)/g) ?? [];
          expect(named.length, `${where}: a block not run names what runs it instead`).toBeGreaterThan(0);
          for (const path of named) expect(existsSync(path), `${where}: ${path}`).toBe(true);
          skipped.push(where);
          continue;
        }
        if (check.startsWith('file ')) {
          const path = join(work, check.slice(5).trim());
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, block.body);
        }
        if (block.lang === 'sh') {
          if (check === 'background') {
            await startBackground(block);
            stopAfterNext = true;
            continue;
          }
          const expected = /^exit (\d+)$/.exec(check);
          const { status, output } = await sh(block.body);
          expect(status, `${where} exited with ${status}:\n${output}`).toBe(expected ? Number(expected[1]) : 0);
          last = { output, line: block.line };
          if (stopAfterNext) {
            stopAfterNext = false;
            await stopBackground();
          }
        } else if (check === 'output') {
          expect(last, `${where}: output of no command`).toBeDefined();
          expect(matches(last!.output, block.body), `${where}: README.md:${last!.line} printed\n${last!.output}`).toBe(
            true,
          );
        } else if (check === 'kafka record') {
          const key = /^key: +(\S+)$/m.exec(block.body)?.[1];
          const headers = /^headers: +content-type=application\/json authwatch-schema=(\S+)$/m.exec(block.body)?.[1];
          expect(key && headers, `${where}: key and headers`).toBeTruthy();
          record = { key: key!, schema: headers!, line: block.line };
        } else if (block.lang === 'ndjson') {
          for (const line of block.body.trim().split('\n'))
            expect(() => JSON.parse(line) as unknown, where).not.toThrow();
        } else if (block.lang === 'yaml') {
          expect(
            parseAllDocuments(block.body).flatMap((d) => d.errors),
            where,
          ).toEqual([]);
        } else if (block.lang === 'json') {
          const value = JSON.parse(block.body) as Record<string, unknown>;
          const same = /^same as (\S+) line (\d+)(?:, except (.+))?$/.exec(check);
          if (same) {
            const written = readFileSync(join(work, same[1]!), 'utf8').split('\n')[Number(same[2]) - 1];
            expect(written, `${where}: ${same[1]} line ${same[2]}`).toBeDefined();
            const actual = JSON.parse(written!) as Record<string, unknown>;
            // Keys, or dotted paths to nested keys, that the example abbreviates or that vary.
            const except = (same[3] ?? '').split(',').map((k) => k.trim().split('.'));
            const drop = (o: Record<string, unknown>) => {
              const copy = structuredClone(o);
              for (const path of except) {
                let node: unknown = copy;
                for (const key of path.slice(0, -1)) node = (node as Record<string, unknown> | undefined)?.[key];
                if (node && typeof node === 'object') delete (node as Record<string, unknown>)[path.at(-1)!];
              }
              return copy;
            };
            expect(drop(value), `${where}: the example is what authwatch wrote`).toEqual(drop(actual));
          }
          if (record) {
            const valid = SCHEMAS[record.schema];
            expect(valid, `README.md:${record.line}: a schema header authwatch uses`).toBeDefined();
            expect(valid!(value), `${where}: ${JSON.stringify(valid!.errors)}`).toBe(true);
            const position = value.position as { topic?: string; partition?: number; offset?: number } | undefined;
            const key =
              record.schema === SCHEMA_HEADERS.alert
                ? alertKey(value as unknown as Alert)
                : record.schema === SCHEMA_HEADERS.action
                  ? actionKey(value as unknown as Action)
                  : `${position?.topic}/${position?.partition}/${position?.offset}`;
            expect(record.key, `README.md:${record.line}: the record's key`).toBe(key);
            record = undefined;
          }
        }
      }
      expect(background, 'a background command is stopped after the block that follows it').toBeUndefined();
      expect(skipped).toHaveLength(1); // the set-up, which CI itself runs
    } finally {
      if (background) await stopBackground().catch(() => undefined);
      release();
    }
  }, 600_000);

  it('runs `npx authwatch` in the repository’s folder, as the README’s commands do', () => {
    const r = spawnSync('npx', ['authwatch', '--help'], { encoding: 'utf8', env: clean });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('usage: authwatch <command>');
  });

  it('lists every option of every command in its CLI reference', () => {
    const reference = README.slice(README.indexOf('## CLI reference'), README.indexOf('## Consuming the topics'));
    for (const command of ['run', 'validate', 'test', 'replay', 'simulate', 'query']) {
      const help = spawnSync(process.execPath, ['bin/authwatch.js', command, '--help'], {
        encoding: 'utf8',
        env: clean,
      });
      expect(help.status, command).toBe(0);
      const options = new Set(help.stdout.match(/--[a-z][a-z-]*/g));
      expect(options.size, command).toBeGreaterThan(0);
      for (const option of options) expect(reference, `authwatch ${command} ${option}`).toContain(option);
    }
  });

  it('tells each attack kind’s default size and pace as the simulator has them', () => {
    const ms = (n: number) =>
      n % 3_600_000 === 0
        ? `${n / 3_600_000}h`
        : n % 60_000 === 0
          ? `${n / 60_000}m`
          : n % 1000 === 0
            ? `${n / 1000}s`
            : `${n}ms`;
    const rows = new Map(
      README.split('\n')
        .filter((l) => /^\| `[a-z_]+` +\|/.test(l))
        .map((l) =>
          l
            .split('|')
            .slice(1, -1)
            .map((c) => c.trim()),
        )
        .map((cells) => [cells[0]!.replaceAll('`', ''), cells.slice(1)]),
    );
    for (const [kind, shape] of Object.entries(ATTACK_SHAPES))
      expect(rows.get(kind), kind).toEqual([
        shape.size ? `${shape.size[0]} ${shape.size[1]}` : '—',
        `${ms(shape.every[0])} ${shape.every[1]}`,
      ]);
  });

  it('runs the Docker stack it describes with a configuration authwatch accepts', () => {
    const compose = parseYaml(readFileSync('docker-compose.yml', 'utf8')) as {
      services: Record<string, { command?: string[]; ports?: string[] }>;
    };
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['kafka', 'clickhouse', 'authwatch']));
    const command = compose.services.authwatch!.command!;
    const file = command[command.indexOf('--config') + 1]!.replace(/^\/app\//, '');
    const config = loadConfig({ file, env: {} });
    expect(config.kafka.brokers.length).toBeGreaterThan(0);
    expect(config.clickhouse.url).toMatch(/^http:\/\/clickhouse:8123/);
    // The same host ports as scripts/services.sh, so the README's commands work against either.
    expect(compose.services.kafka!.ports!.join()).toContain('127.0.0.1:9092:');
    expect(compose.services.clickhouse!.ports!.join()).toContain('127.0.0.1:8123:8123');
    expect(README).toContain('docker compose up');
  });
});
