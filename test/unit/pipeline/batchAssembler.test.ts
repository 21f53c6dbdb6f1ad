import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchAssembler, type Pending } from '../../../src/pipeline/batchAssembler.js';

const p0 = { topic: 't', partition: 0 };
const p1 = { topic: 't', partition: 1 };
const p2 = { topic: 't', partition: 2 };

/** Records at consecutive offsets from `from`, with the given event times; items name them. */
function records(partition: number, from: number, times: number[]): Pending<string>[] {
  return times.map((time, i) => ({ offset: from + i, time, item: `${partition}@${from + i}` }));
}

const items = (batch: { records: { item: string }[] } | undefined): string[] => batch?.records.map((r) => r.item) ?? [];

describe('BatchAssembler', () => {
  it('merges partitions by event time, keeping each partition in offset order', () => {
    const a = new BatchAssembler<string>({ maxRecords: 100, partitionWaitMs: 100 });
    a.assign([p0, p1]);
    a.add(p0, records(0, 0, [1, 4, 5, 9]), 4);
    a.add(p1, records(1, 0, [2, 3, 6]), 3);
    const { batch } = a.take(0);
    expect(items(batch)).toEqual(['0@0', '1@0', '1@1', '0@1', '0@2', '1@2', '0@3']);
    expect(batch!.ranges).toEqual([
      { topic: 't', partition: 0, first: 0, last: 3 },
      { topic: 't', partition: 1, first: 0, last: 2 },
    ]);
    expect(a.size).toBe(0);
  });

  it('keeps a partition whose times go backwards in offset order (a late event stays where it came)', () => {
    const a = new BatchAssembler<string>({ maxRecords: 100, partitionWaitMs: 0 });
    a.assign([p0, p1]);
    a.add(p0, records(0, 0, [10, 2]), 2);
    a.add(p1, records(1, 0, [5]), 1);
    expect(items(a.take(0).batch)).toEqual(['1@0', '0@0', '0@1']);
  });

  it('stops a batch where a partition with more records on the broker runs dry, until its wait ends', () => {
    const a = new BatchAssembler<string>({ maxRecords: 100, partitionWaitMs: 50 });
    a.assign([p0, p1]);
    a.add(p0, records(0, 0, [1, 2, 3, 4, 5, 6]), 6);
    a.add(p1, records(1, 0, [1.5, 2.5]), 10); // eight more of p1 are on the broker
    expect(items(a.take(1000).batch)).toEqual(['0@0', '1@0', '0@1', '1@1']);
    // p1 is dry and lagging: nothing until its records come, or 50 ms pass.
    expect(a.take(1010)).toEqual({ retryAt: 1050 });
    a.add(p1, records(1, 2, [3.5]), 10);
    expect(items(a.take(1020).batch)).toEqual(['0@2', '1@2']);
    expect(a.take(1030).batch).toBeUndefined();
    expect(items(a.take(1071).batch)).toEqual(['0@3', '0@4', '0@5']);
  });

  it('never waits for a partition that is caught up, or one it knows nothing of', () => {
    const a = new BatchAssembler<string>({ maxRecords: 100, partitionWaitMs: 1000 });
    a.assign([p0, p1, p2]);
    a.add(p0, records(0, 5, [1, 2]), 7);
    a.expect(p1, 3, 3); // read to its end
    expect(items(a.take(0).batch)).toEqual(['0@5', '0@6']);
  });

  it('waits at the start for a partition known to have a backlog', () => {
    const a = new BatchAssembler<string>({ maxRecords: 100, partitionWaitMs: 100 });
    a.assign([p0, p1]);
    a.expect(p0, 0, 3);
    a.expect(p1, 10, 12);
    a.add(p0, records(0, 0, [5, 6, 7]), 3);
    expect(a.take(0)).toEqual({ retryAt: 100 });
    a.add(p1, records(1, 10, [1, 2]), 12);
    expect(items(a.take(1).batch)).toEqual(['1@10', '1@11', '0@0', '0@1', '0@2']);
  });

  it('takes at most maxRecords, leaving the rest for the next batch', () => {
    const a = new BatchAssembler<string>({ maxRecords: 3, partitionWaitMs: 0 });
    a.assign([p0]);
    a.add(p0, records(0, 0, [1, 2, 3, 4, 5]), 5);
    expect(items(a.take(0).batch)).toEqual(['0@0', '0@1', '0@2']);
    expect(items(a.take(0).batch)).toEqual(['0@3', '0@4']);
  });

  it('drops the records of partitions no longer assigned', () => {
    const a = new BatchAssembler<string>({ maxRecords: 100, partitionWaitMs: 0 });
    a.assign([p0, p1]);
    a.add(p0, records(0, 0, [1, 2]), 2);
    a.add(p1, records(1, 0, [1]), 1);
    expect(a.assign([p1])).toEqual([p0]);
    expect(a.size).toBe(1);
    a.add(p0, records(0, 2, [3]), 3); // a straggling fetch of the revoked partition
    expect(items(a.take(0).batch)).toEqual(['1@0']);
  });

  it('rebuilds a journalled batch exactly: same records, same order, once all its records are fetched', () => {
    const a = new BatchAssembler<string>({ maxRecords: 100, partitionWaitMs: 0 });
    a.assign([p0, p1]);
    a.replay([
      {
        seq: 7,
        ranges: [
          { topic: 't', partition: 0, first: 0, last: 2 },
          { topic: 't', partition: 1, first: 0, last: 0 },
        ],
      },
    ]);
    a.add(p0, records(0, 0, [3, 1]), 10);
    expect(a.take(0).batch).toBeUndefined(); // offset 2 of p0 not fetched yet
    a.add(p1, records(1, 0, [2, 0]), 10);
    a.add(p0, records(0, 2, [4, 5]), 10);
    const { batch } = a.take(0);
    expect(batch?.seq).toBe(7);
    expect(items(batch)).toEqual(['1@0', '0@0', '0@1', '0@2']);
    expect(a.replaying).toBe(false);
    expect(items(a.take(0).batch)).toEqual(['1@1', '0@3']);
  });

  it('refuses to replay a batch of a partition it does not hold', () => {
    const a = new BatchAssembler<string>({ maxRecords: 100, partitionWaitMs: 0 });
    a.assign([p0]);
    a.replay([{ seq: 1, ranges: [{ topic: 't', partition: 1, first: 0, last: 0 }] }]);
    expect(() => a.take(0)).toThrow(/t\/1.*not assigned/);
  });

  it('replays any sequence of batches from their ranges alone, whatever was fetched when (property)', () => {
    const partitionTimes = fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 30 }), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(
        partitionTimes,
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 20 }),
        (times, fetches, maxRecords) => {
          const parts = times.map((_, partition) => ({ topic: 't', partition }));
          const live = new BatchAssembler<string>({ maxRecords, partitionWaitMs: 0 });
          live.assign(parts);
          const fetched = times.map(() => 0);
          const batches: { items: string[]; ranges: NonNullable<ReturnType<typeof live.take>['batch']>['ranges'] }[] =
            [];
          // Fetch in uneven pieces, taking batches in between, as fetches and processing interleave.
          fetches.forEach((size, step) => {
            const p = step % times.length;
            const from = fetched[p]!;
            const slice = times[p]!.slice(from, from + size);
            fetched[p] = from + slice.length;
            live.add(parts[p]!, records(p, from, slice), times[p]!.length);
            const { batch } = live.take(step);
            if (batch) batches.push({ items: items(batch), ranges: batch.ranges });
          });
          // A restarted assembler given only the ranges, and every record at once, rebuilds them.
          const replayed = new BatchAssembler<string>({ maxRecords, partitionWaitMs: 0 });
          replayed.assign(parts);
          replayed.replay(batches.map((b, i) => ({ seq: i + 1, ranges: b.ranges })));
          times.forEach((t, p) => replayed.add(parts[p]!, records(p, 0, t), t.length));
          for (const b of batches) expect(items(replayed.take(0).batch)).toEqual(b.items);
        },
      ),
      { numRuns: 300 },
    );
  });
});
