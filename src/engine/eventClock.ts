/**
 * Event time of one stream: the newest event time seen, moved on by the events themselves. A
 * step within the allowed lateness is taken at once (the stream moving on); a jump further
 * ahead waits until `corroboration` events back it, then goes to the earliest of them; with a
 * wall clock, event time never passes it by more than the lateness. So no single record,
 * however it is dated, makes the rest of the stream late.
 *
 * The engine keeps one for its whole input; the match stage of a scaled-out deployment keeps
 * one per input partition, and carries it to the correlate stage with the hits.
 */
export class EventClock {
  /** The newest event time the stream has reached; -Infinity before the first event. */
  maxTime = Number.NEGATIVE_INFINITY;
  /** Times of events too far ahead to move event time on their own, ascending, at most `corroboration`. */
  ahead: number[] = [];

  constructor(
    private readonly lateness: number,
    private readonly corroboration: number,
  ) {}

  /** The watermark: events older than it are late. */
  get watermark(): number {
    return this.maxTime - this.lateness;
  }

  /**
   * Moves event time to `t` (capped at `wall + lateness` when a wall clock reads `wall`).
   * Returns whether `t` was ahead of event time by more than the lateness (or of the wall clock).
   */
  advance(t: number, wall: number | undefined): boolean {
    if (t <= this.maxTime) return false;
    const target = wall !== undefined ? Math.min(t, wall + this.lateness) : t;
    let ahead = target < t;
    if (target <= this.maxTime) return ahead;
    if (!Number.isFinite(this.maxTime) || target - this.maxTime <= this.lateness) {
      this.maxTime = target;
      // Jumps held before may be steps now.
      while (this.ahead.length > 0 && this.ahead[0]! - this.maxTime <= this.lateness) this.ahead.shift();
      return ahead;
    }
    if (target === t) ahead = true;
    let i = this.ahead.length;
    while (i > 0 && this.ahead[i - 1]! > target) i--;
    this.ahead.splice(i, 0, target);
    if (this.ahead.length >= this.corroboration) {
      this.maxTime = this.ahead[0]!;
      this.ahead = this.ahead.filter((a) => a - this.maxTime > this.lateness);
    }
    return ahead;
  }

  /** Takes event time to at least `t` at once, as the correlate stage does with the watermarks it is sent. */
  raise(t: number): void {
    if (t > this.maxTime) this.maxTime = t;
    while (this.ahead.length > 0 && this.ahead[0]! - this.maxTime <= this.lateness) this.ahead.shift();
  }

  restore(maxTime: number | null | undefined, ahead: readonly number[] | undefined): void {
    this.maxTime = maxTime ?? Number.NEGATIVE_INFINITY;
    this.ahead = [...(ahead ?? [])];
  }
}
