import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { sql } from '../../../src/clickhouse/sql.js';
import { migrate } from '../../../src/store/migrate.js';
import { openStore } from '../../../src/store/store.js';

// A platform chDB has no build for: loading it fails.
vi.mock('chdb', () => {
  throw new Error('libchdb.so: cannot open shared object file');
});

describe('the embedded store where chDB cannot load', () => {
  it('falls back to NDJSON files, says why, and refuses SQL with the reason instead of crashing', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'authwatch-fallback-')), 'store');
    const store = await openStore({ database: 'authwatch', username: 'default', password: '', path: dir });
    expect(store.kind).toBe('files');
    expect(store.fallbackReason).toMatch(/^chDB could not be loaded here \(/);
    expect(await migrate(store, 'authwatch')).toMatchObject({ created: [], added: [] });
    await store.insert('authwatch', 'alerts', [{ alert_id: 'a' }, { alert_id: 'b' }]);
    await store.insert('authwatch', 'alerts', [{ alert_id: 'c' }]);
    expect(readFileSync(join(dir, 'alerts.ndjson'), 'utf8')).toBe(
      '{"alert_id":"a"}\n{"alert_id":"b"}\n{"alert_id":"c"}\n',
    );
    await expect(store.query(sql`SELECT 1`)).rejects.toThrow(
      /No SQL here: chDB could not be loaded .* NDJSON files in .*store/,
    );
  });
});
