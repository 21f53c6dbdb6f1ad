import type { SinkBatch } from '../sinks/sink.js';

/**
 * How much of a batch a SIEM sink has delivered. The pipeline retries a failed write with the
 * same batch; a sink that delivers in parts (messages, requests) goes on after what was
 * delivered instead of sending it again. Keyed weakly by the batch: nothing to clean up.
 */
export class DeliveryProgress {
  private readonly done = new WeakMap<SinkBatch, number>();

  /** Parts of `batch` delivered so far. */
  of(batch: SinkBatch): number {
    return this.done.get(batch) ?? 0;
  }

  set(batch: SinkBatch, parts: number): void {
    this.done.set(batch, parts);
  }
}
