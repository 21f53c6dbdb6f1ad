/**
 * Runs `fn` (which processes `units` items) `rounds` times after a warm-up and returns the
 * median rate in items per second, with the spread. Medians, because the machines are shared.
 * With `timed`, `fn` returns how many nanoseconds its measured part took.
 */
export function measure(fn, units, { rounds = 9, warmup = 3, timed = false } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const rates = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    const inner = fn();
    // `timed`: fn returns the nanoseconds of the part to count (its set-up excluded).
    const ns = timed ? inner : Number(process.hrtime.bigint() - t0);
    rates.push(units / (ns / 1e9));
  }
  rates.sort((a, b) => a - b);
  return { median: rates[Math.floor(rates.length / 2)], min: rates[0], max: rates[rates.length - 1] };
}

export function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}
