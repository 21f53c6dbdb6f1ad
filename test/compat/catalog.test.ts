// The compatibility check: authwatch against the references on the team's desk
// (`../shared/reference`), which the product and `npm test` never need. `.ci/run` runs it
// with `npm run test:compat`.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { AUTH0_TYPES } from '../../src/events/auth0Types.js';
import { RuleIndex } from '../../src/engine/ruleIndex.js';
import { auth0CatalogOf, type JsonSchema } from '../../src/rules/fieldCatalog.js';
import { loadRules } from '../../src/rules/loader.js';

const catalog = '../shared/reference/auth0-detection-catalog';
const specTests = '../shared/reference/sigma-specification/tests';
const schemaDir = '../shared/reference/auth0-log-schemas';

describe('the Auth0 Detection Catalog', () => {
  const set = loadRules([catalog]);

  it('loads every rule file of the catalog (33 YAML files beside its LICENSE) with no error', () => {
    expect(readdirSync(catalog)).toHaveLength(34);
    expect(readdirSync(catalog).filter((f) => f.endsWith('.yml'))).toHaveLength(33);
    expect(set.sources.size).toBe(33);
    expect(set.diagnostics.items.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('is shipped unmodified as the optional pack packs/auth0-catalog, byte for byte', () => {
    const shipped = readdirSync('packs/auth0-catalog').sort();
    expect(shipped).toEqual(readdirSync(catalog).sort());
    for (const f of shipped)
      expect(readFileSync(join('packs/auth0-catalog', f)).equals(readFileSync(join(catalog, f))), f).toBe(true);
  });

  it('compiles every rule of every file', () => {
    const files = new Set([...set.detections, ...set.correlations].map((r) => r.file));
    expect(files.size).toBe(33);
    // Seven files pair a detection with a correlation named `selected_events`.
    expect(set.correlations.length).toBeGreaterThanOrEqual(7);
    for (const c of set.correlations) {
      expect(c.rules, c.title).toHaveLength(1);
      // Names are scoped per file: each correlation refers to the rule of its own file.
      expect(set.byUid.get(c.rules[0]!)?.file).toBe(c.file);
    }
  });

  it('explains every warning, each with a code and a position', () => {
    for (const d of set.diagnostics.items) {
      expect(d.severity).toBe('warning');
      expect(d.message.length).toBeGreaterThan(20);
      expect(d.span.start.line).toBeGreaterThan(0);
    }
    // refresh_token_reuse.yml is an event_count correlation that carries `field`.
    expect(
      set.diagnostics.items.some((d) => d.code === 'AW1406' && d.span.file.endsWith('refresh_token_reuse.yml')),
    ).toBe(true);
  });

  it('indexes the catalog rules by Auth0 type code', () => {
    const index = new RuleIndex(set.detections);
    expect(index.candidateCount('auth0', 'sapi')).toBeGreaterThan(10);
    expect(index.candidateCount('auth0', 'f')).toBeLessThan(index.candidateCount('auth0', 'sapi'));
  });

  it('matches catalog rules on Auth0 records, `{}` array notation included', () => {
    const index = new RuleIndex(set.detections);
    const titles = (raw: Record<string, unknown>) => {
      const out: string[] = [];
      index.forEachMatch({ source: 'auth0', raw }, (r) => out.push(r.title));
      return out;
    };
    const bruteForceOff = {
      log_id: '1',
      data: {
        type: 'sapi',
        description: 'Update Brute-force settings',
        details: { response: { body: { enabled: true, shields: ['user_notification'] } } },
      },
    };
    expect(titles(bruteForceOff).some((t) => /^Brute Force Protection/.test(t))).toBe(true);
    const bruteForceBlocking = {
      ...bruteForceOff,
      data: {
        ...bruteForceOff.data,
        details: { response: { body: { enabled: true, shields: ['block', 'user_notification'] } } },
      },
    };
    expect(titles(bruteForceBlocking).some((t) => /^Brute Force Protection/.test(t))).toBe(false);

    const liquid = {
      data: {
        type: 'sapi',
        description: 'Update tenant settings',
        details: { response: { body: { error_page: { html: '<p>{{ user.name }}</p>' } } } },
      },
    };
    expect(titles(liquid).some((t) => /liquid/i.test(t))).toBe(true);
    const plain = {
      data: { ...liquid.data, details: { response: { body: { error_page: { html: '<p>Sorry.</p>' } } } } },
    };
    expect(titles(plain).some((t) => /liquid/i.test(t))).toBe(false);
  });
});

describe('the Sigma specification test files', () => {
  const files = ['rules', 'correlation', 'filter'].flatMap((d) =>
    readdirSync(`${specTests}/schema/${d}`).map((f) => `${specTests}/schema/${d}/${f}`),
  );

  it('are twelve', () => {
    expect(files).toHaveLength(12);
  });

  // Each is a schema example on its own (two pairs even share an id), so each loads alone.
  it.each(files)('%s loads with no error', (file) => {
    const set = loadRules([file]);
    expect(set.diagnostics.items.filter((d) => d.severity === 'error')).toEqual([]);
    if (file.includes('/correlation/')) {
      // Alone, a correlation's rules are missing, so it is disabled with a warning per name.
      expect(set.correlations).toEqual([]);
      expect(set.diagnostics.items.length).toBeGreaterThan(0);
      for (const d of set.diagnostics.items)
        expect([d.code, d.message]).toEqual(['AW1405', expect.stringContaining('is disabled')]);
    } else expect(set.detections.length + set.filters.length).toBe(1);
  });
});

describe('the Auth0 log schemas', () => {
  it('each have a code in the Auth0 table, which adds only du, fapi, fc and signup_pwd_leak', () => {
    const schemaCodes = readdirSync(schemaDir)
      .filter((f) => f.endsWith('.schema.json'))
      .map((f) => f.slice(0, -'.schema.json'.length));
    expect(schemaCodes).toHaveLength(166);
    expect(Object.keys(AUTH0_TYPES).sort()).toEqual([...schemaCodes, 'du', 'fapi', 'fc', 'signup_pwd_leak'].sort());
  });
});

describe('the Auth0 field catalog (schemas/fields/auth0.json)', () => {
  it('is the one the published log schemas give, so field warnings follow Auth0', () => {
    const schemas = readdirSync(schemaDir)
      .filter((f) => f.endsWith('.schema.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(schemaDir, f), 'utf8')) as JsonSchema);
    expect(JSON.parse(readFileSync('schemas/fields/auth0.json', 'utf8'))).toEqual(auth0CatalogOf(schemas));
  });

  it('finds the one catalog rule that names a field no Auth0 record carries', () => {
    const set = loadRules([catalog]);
    const fieldWarnings = set.diagnostics.items.filter((d) => d.code === 'AW1214');
    // The allowlist rule reads `data.request.body.allowlist`; its own Splunk query, and the
    // records, have it under `data.details.request.body.allowlist`.
    expect(fieldWarnings.map((d) => [d.span.file.split('/').pop(), d.message])).toEqual([
      ['unrecognized_ip_in_allowlist.yml', expect.stringContaining('`data.request.body.allowlist`')],
    ]);
    expect(set.diagnostics.items.filter((d) => d.code === 'AW1112')).toEqual([]);
  });
});

describe('authwatch validate on the catalog', () => {
  let out = '';
  beforeEach(() => {
    out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('exits 0 and summarises what loaded', async () => {
    expect(await main(['validate', catalog])).toBe(0);
    expect(out).toMatch(
      /33 file\(s\): \d+ detection\(s\), \d+ correlation\(s\), 0 filter\(s\) loaded; 0 error\(s\), \d+ warning\(s\)\./,
    );
  });
});
