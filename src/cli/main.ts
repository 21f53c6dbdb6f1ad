import { queryCommand } from './query.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';
import { simulateCommand } from './simulate.js';
import { testCommand } from './test.js';
import { validateCommand } from './validate.js';

/** A CLI command: takes its own arguments, returns the process exit code. */
export type Command = (args: string[]) => Promise<number>;

const commands: Record<string, { run: Command; summary: string }> = {
  run: { run: runCommand, summary: 'the streaming engine (Kafka in and out; NDJSON file or stdin without Kafka)' },
  validate: { run: validateCommand, summary: 'load rules and print every diagnostic (--format text|json)' },
  test: { run: testCommand, summary: "run the rules' inline tests" },
  replay: { run: replayCommand, summary: 'decode, enrich and evaluate recorded events (NDJSON, gzip too)' },
  simulate: {
    run: simulateCommand,
    summary: 'seeded, realistic auth traffic with attacks mixed in (auth0, okta or canonical NDJSON)',
  },
  query: {
    run: queryCommand,
    summary: 'SQL, or a canned investigation, on the configured ClickHouse (server or embedded)',
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: authwatch <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`authwatch: unknown command \`${name}\`\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    process.stderr.write(`authwatch ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}
