import { describe, expect, it } from 'vitest';
import { refuseUnlessReadOnly } from '../../../src/server/readOnlySql.js';

describe('read-only SQL on the engine port', () => {
  it('lets statements that read through', () => {
    for (const q of [
      'SELECT 1',
      '  select count() from authwatch.alerts FINAL;  ',
      'WITH 1 AS x SELECT x',
      'SHOW TABLES FROM authwatch',
      'DESCRIBE TABLE authwatch.alerts',
      'desc authwatch.alerts',
      'EXISTS TABLE authwatch.alerts',
      'EXPLAIN SELECT 1',
      "-- a comment\nSELECT 'a;b' AS s, `we;ird` FROM t /* ; DROP */ WHERE x = 'it''s' FORMAT JSONEachRow",
      "SELECT 'DROP TABLE x; INTO OUTFILE' AS text",
    ])
      expect(refuseUnlessReadOnly(q), q).toBeUndefined();
  });

  it('refuses writes, more than one statement, files and broken text, saying why', () => {
    expect(refuseUnlessReadOnly('DROP TABLE authwatch.alerts')).toMatch(/not DROP/);
    expect(refuseUnlessReadOnly('insert into t values (1)')).toMatch(/not INSERT/);
    expect(refuseUnlessReadOnly('/* SELECT */ ALTER TABLE t DELETE WHERE 1')).toMatch(/not ALTER/);
    expect(refuseUnlessReadOnly('SELECT 1; DROP TABLE t')).toMatch(/one statement/);
    expect(refuseUnlessReadOnly("SELECT 1;'x'")).toMatch(/one statement/);
    expect(refuseUnlessReadOnly("SELECT * FROM t INTO OUTFILE '/tmp/x'")).toMatch(/INTO OUTFILE/);
    expect(refuseUnlessReadOnly("SELECT 'unterminated")).toMatch(/unterminated quote/);
    expect(refuseUnlessReadOnly('SELECT 1 /* open')).toMatch(/unterminated comment/);
    expect(refuseUnlessReadOnly('  -- nothing\n')).toMatch(/empty/);
    expect(refuseUnlessReadOnly('SET readonly = 0')).toMatch(/not SET/);
  });
});

describe('the ClickHouse HTTP interface on the engine port', () => {
  it('answers read-only SQL by GET and POST with the asked format, refuses writes, and passes errors on', async () => {
    const { startHttpServer } = await import('../../../src/server/httpServer.js');
    const { Metrics } = await import('../../../src/server/metrics.js');
    const { createLogger } = await import('../../../src/log/logger.js');
    const asked: Array<[string, string]> = [];
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new Metrics({ processMetrics: false }),
      logger: createLogger({ level: 'silent' }),
      live: () => true,
      readiness: () => ({ ready: true, checks: {} }),
      sql: (query, format) => {
        asked.push([query, format]);
        return query.includes('nope')
          ? Promise.reject(new Error('Code: 47. DB::Exception: Unknown identifier nope'))
          : Promise.resolve('1\n');
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    const text = async (res: Response) => ({ status: res.status, body: await res.text() });
    try {
      expect(await text(await fetch(`${base}/ping`))).toEqual({ status: 200, body: 'Ok.\n' });
      expect(await text(await fetch(`${base}/?query=${encodeURIComponent('SELECT 1')}`))).toEqual({
        status: 200,
        body: '1\n',
      });
      expect(
        await text(await fetch(`${base}/?default_format=JSONEachRow`, { method: 'POST', body: 'SELECT 2' })),
      ).toEqual({ status: 200, body: '1\n' });
      expect(asked).toEqual([
        ['SELECT 1', 'TabSeparated'],
        ['SELECT 2', 'JSONEachRow'],
      ]);
      const drop = await text(await fetch(`${base}/`, { method: 'POST', body: 'DROP TABLE authwatch.alerts' }));
      expect(drop.status).toBe(403);
      expect(drop.body).toMatch(/^Code: 164\. DB::Exception: Only statements that read/);
      expect(asked).toHaveLength(2);
      const bad = await text(await fetch(`${base}/?query=${encodeURIComponent('SELECT nope')}`));
      expect(bad).toEqual({ status: 400, body: 'Code: 47. DB::Exception: Unknown identifier nope\n' });
      // Only this machine's own clients are answered.
      const { loopback } = await import('../../../src/server/httpServer.js');
      expect(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'].every(loopback)).toBe(true);
      expect(['10.0.0.1', '::ffff:192.168.1.2', '2001:db8::1', '', undefined].some(loopback)).toBe(false);
      // The operations endpoints are still there.
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
