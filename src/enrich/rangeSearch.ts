/**
 * Bisection over the sorted first addresses of address ranges, shared by the geo and ASN
 * tables: the last range starting at or before an address is the only one that may hold it.
 */

/** Index of the last of `starts` (ascending) at or before `key`, or -1: the range that may hold it. */
export function lastAtOrBefore(starts: Uint32Array, key: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= key) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** `lastAtOrBefore` for keys of two parts (high, low), compared as one. */
export function lastPairAtOrBefore<T extends number | bigint>(
  highs: ArrayLike<T>,
  lows: ArrayLike<T>,
  keyHigh: T,
  keyLow: T,
): number {
  let lo = 0;
  let hi = highs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const h = highs[mid]!;
    if (h < keyHigh || (h === keyHigh && lows[mid]! <= keyLow)) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
