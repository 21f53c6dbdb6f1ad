/**
 * Wall-clock time, injected. Event time drives every window; a Clock only drives what must
 * happen when no events arrive (flushing, freeing idle state), so tests advance a FakeClock
 * instead of sleeping.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class FakeClock implements Clock {
  constructor(private time = 0) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
  set(ms: number): void {
    this.time = ms;
  }
}
