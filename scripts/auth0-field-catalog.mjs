#!/usr/bin/env node
// Writes schemas/fields/auth0.json, the fields Auth0 log records can carry, from a directory of
// Auth0's published log JSON Schemas (github.com/auth0/auth0-log-schemas):
//   npm run build && node scripts/auth0-field-catalog.mjs DIR > schemas/fields/auth0.json
// The tree is of the log-stream wrapper `{log_id, data}`, the form rules on `product: auth0` read.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { auth0CatalogOf } from '../dist/rules/fieldCatalog.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node scripts/auth0-field-catalog.mjs SCHEMA_DIR\n');
  process.exit(2);
}
const schemas = readdirSync(dir)
  .filter((f) => f.endsWith('.schema.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
process.stdout.write(`${JSON.stringify(auth0CatalogOf(schemas), null, 1)}\n`);
