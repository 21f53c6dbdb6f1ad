import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Paces a stream going out: `rate` records per second, or `speed` seconds of event time per
 * second of wall time (so a simulated day plays in 24 h / speed, bursts and quiet hours as
 * they were). Neither: as fast as possible. `wait` is called before each record goes out and
 * sleeps until it is due; a stop signal ends the wait early.
 */
export class Pacer {
  private began: number | undefined;
  private first = 0;

  constructor(
    private readonly pace: { rate?: number; speed?: number },
    private readonly stop?: AbortSignal,
  ) {}

  async wait(index: number, eventTime: number): Promise<void> {
    if (this.began === undefined) {
      this.began = Date.now();
      this.first = eventTime;
    }
    const { rate, speed } = this.pace;
    const due =
      rate !== undefined && rate > 0
        ? this.began + (index / rate) * 1000
        : speed !== undefined && speed > 0
          ? this.began + (eventTime - this.first) / speed
          : undefined;
    if (due === undefined || this.stop?.aborted) return;
    const ms = due - Date.now();
    if (ms > 0) await sleep(ms, undefined, { signal: this.stop }).catch(() => undefined);
  }
}
