/** A CLI command: takes its own arguments, returns the process exit code. */
export type Command = (args: string[]) => Promise<number>;

/**
 * Each command's module is imported when the command runs, so a command loads only what it
 * needs: `validate` never loads Kafka, ClickHouse or the geo data.
 */
const commands: Record<string, { load: () => Promise<Command>; summary: string }> = {
  run: {
    load: async () => (await import('./run.js')).runCommand,
    summary: 'the streaming engine (Kafka in and out; NDJSON file or stdin without Kafka)',
  },
  validate: {
    load: async () => (await import('./validate.js')).validateCommand,
    summary: 'load rules and print every diagnostic (--format text|json)',
  },
  test: { load: async () => (await import('./test.js')).testCommand, summary: "run the rules' inline tests" },
  replay: {
    load: async () => (await import('./replay.js')).replayCommand,
    summary: 'decode, enrich and evaluate recorded events (NDJSON, gzip too)',
  },
  simulate: {
    load: async () => (await import('./simulate.js')).simulateCommand,
    summary: 'seeded, realistic auth traffic with attacks mixed in (auth0, okta or canonical NDJSON)',
  },
  export: {
    load: async () => (await import('./export.js')).exportCommand,
    summary: 'stored alerts in a SIEM format (OCSF, ECS, CEF, Splunk HEC, JSON, CSV), filtered',
  },
  query: {
    load: async () => (await import('./query.js')).queryCommand,
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
    return await (
      await command.load()
    )(rest);
  } catch (err) {
    process.stderr.write(`authwatch ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}
