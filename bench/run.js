// Runs every benchmark in bench/ (files named *.bench.js) in one process, one after the
// other, and prints their results as Markdown for BENCHMARKS.md. `npm run bench` builds first.
import { readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const only = process.argv[2];
const files = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => !only || f.includes(only))
  .sort();

console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
);
for (const file of files) {
  const mod = await import(new URL(file, import.meta.url).href);
  console.log(`\n## ${mod.title}\n`);
  await mod.run();
}
