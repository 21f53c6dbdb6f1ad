import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/engine/alert.js';
import { ServiceError } from '../../../src/errors.js';
import type { DetectionStore } from '../../../src/store/detectionStore.js';
import { StoreWriter } from '../../../src/store/storeWriter.js';

const alert = (i: number) => ({ alert_id: String(i).padStart(32, '0') }) as Alert;

/** A store whose inserts fail as scripted, recording what reached it. */
function fakeStore(failures: Array<Error | undefined>) {
  const inserted: Array<{ table: string; ids: unknown[] }> = [];
  const store = {
    rowsByTable: (out: { alerts?: Alert[] }) => [
      ['events', []],
      ['alerts', (out.alerts ?? []).map((a) => ({ alert_id: a.alert_id }))],
      ['actions', []],
    ],
    insert: (table: string, rows: Record<string, unknown>[]) => {
      const f = failures.shift();
      if (f) return Promise.reject(f);
      inserted.push({ table, ids: rows.map((r) => r.alert_id) });
      return Promise.resolve();
    },
  };
  return { store: store as unknown as DetectionStore, inserted };
}

describe('StoreWriter', () => {
  it('writes in batches of at most maxRows, the rest when flushed', async () => {
    const { store, inserted } = fakeStore([]);
    const w = new StoreWriter(store, { maxRows: 3, maxBackoffMs: 10 });
    await w.add({ alerts: [0, 1].map(alert) });
    expect(inserted).toEqual([]);
    await w.add({ alerts: [2, 3, 4, 5, 6].map(alert) });
    expect(inserted.map((i) => i.ids.length)).toEqual([3, 3]);
    expect(w.buffered).toBe(1);
    await w.flush();
    expect(inserted.flatMap((i) => i.ids)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => alert(i).alert_id));
    expect(w.counters).toMatchObject({ rows: { alerts: 7 }, inserts: 3, retries: 0 });
  });

  it('retries a passing refusal with growing waits, capped, and loses nothing', async () => {
    const down = () => new ServiceError('clickhouse', 'connection refused', { retriable: true });
    const { store, inserted } = fakeStore([down(), down(), down(), down(), undefined]);
    const waits: number[] = [];
    const w = new StoreWriter(store, {
      maxRows: 10,
      maxBackoffMs: 300,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    await w.add({ alerts: [alert(1)] });
    await w.flush();
    expect(waits).toEqual([100, 200, 300, 300]);
    expect(inserted).toHaveLength(1);
    expect(w.counters.retries).toBe(4);
  });

  it('gives up at once on a refusal that cannot pass, keeping the rows for another try', async () => {
    const { store, inserted } = fakeStore([
      new ServiceError('clickhouse', 'Code: 60. Unknown table', { retriable: false }),
    ]);
    const w = new StoreWriter(store, { maxRows: 10, maxBackoffMs: 10 });
    await w.add({ alerts: [alert(1)] });
    await expect(w.flush()).rejects.toThrow(/Unknown table/);
    expect(w.buffered).toBe(1);
    await w.flush();
    expect(inserted).toHaveLength(1);
  });

  it('stops waiting when asked to stop', async () => {
    const down = () => new ServiceError('clickhouse', 'connection refused', { retriable: true });
    const { store } = fakeStore([down(), down(), down()]);
    const stop = new AbortController();
    const w = new StoreWriter(store, {
      maxRows: 10,
      maxBackoffMs: 10,
      signal: stop.signal,
      sleep: () => {
        stop.abort();
        return Promise.resolve();
      },
    });
    await w.add({ alerts: [alert(1)] });
    await expect(w.flush()).rejects.toThrow(/connection refused/);
  });
});
