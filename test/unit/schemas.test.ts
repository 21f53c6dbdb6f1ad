import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';

// The code compiles its schemas without checking them against the meta-schema (that cost
// 25 ms of every start); this is where they are checked.
function schemaFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? schemaFiles(join(dir, e.name)) : e.name.endsWith('.schema.json') ? [join(dir, e.name)] : [],
  );
}

describe('the JSON Schemas in schemas/', () => {
  const files = schemaFiles('schemas');

  it('are all found', () => {
    expect(files).toEqual(
      expect.arrayContaining(['schemas/config.schema.json', 'schemas/rule-extensions.schema.json']),
    );
  });

  it.each(files)('%s is a valid draft-07 schema', (file) => {
    const schema = JSON.parse(readFileSync(file, 'utf8')) as { $schema?: string };
    const ajv = new Ajv({ strict: false });
    const valid = ajv.validateSchema(schema);
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('would catch a schema that is not one', () => {
    const ajv = new Ajv({ strict: false });
    expect(ajv.validateSchema({ type: 'objekt', properties: { a: { minLength: -1 } } })).toBe(false);
  });
});
