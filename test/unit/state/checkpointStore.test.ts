import { describe, expect, it } from 'vitest';
import { decodeState, encodeState, journalAfter } from '../../../src/state/checkpointStore.js';

describe('checkpoint state encoding', () => {
  it('round-trips text of any size, characters cut across the compressor’s slices included', async () => {
    // A four-byte character straddles every megabyte boundary of the input.
    const text = `${'a'.repeat((1 << 20) - 1)}😀${'é'.repeat(1 << 20)}${'😀'.repeat(300_000)}{"end":true}`;
    const { bytes, sha256 } = await encodeState(text);
    expect(bytes.length).toBeLessThan(text.length / 10);
    expect(await decodeState(bytes, sha256)).toBe(text);
    expect(await decodeState(await encodeState('').then((e) => e.bytes), (await encodeState('')).sha256)).toBe('');
  });

  it('refuses bytes whose hash is not the one stored with them', async () => {
    const { bytes, sha256 } = await encodeState('{"state":1}');
    bytes[bytes.length - 5]! ^= 0xff;
    await expect(decodeState(bytes, sha256)).rejects.toThrow(/hash/);
  });
});

describe('journalAfter', () => {
  const entry = (seq: number) => ({ seq, ranges: [{ topic: 't', partition: 0, first: seq, last: seq }] });

  it('keeps the entries after the checkpoint, in order, up to the first gap', () => {
    expect(journalAfter([5, 3, 4, 2, 7, 8].map(entry), 2).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(journalAfter([1, 2].map(entry), 2)).toEqual([]);
    expect(journalAfter([1, 2, 3].map(entry), 0).map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});
