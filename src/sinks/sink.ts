import type { Action, Alert } from '../engine/alert.js';
import type { AuthEvent } from '../events/authEvent.js';
import type { DeadLetter } from '../events/deadLetter.js';
import type { HitEnvelope } from '../scale/hits.js';

/** What a batch of input produced, in the order of the records that produced it. */
export interface SinkBatch {
  alerts: readonly Alert[];
  actions: readonly Action[];
  deadLetters: readonly DeadLetter[];
  /** The batch's events, when a sink keeps them (the ClickHouse events table). */
  events?: readonly AuthEvent[];
  /** The match stage's hits and watermarks for the correlate stage, by hits partition. */
  hits?: ReadonlyArray<{ partition: number; envelope: HitEnvelope }>;
}

/** The last outcome of a sink's writes, for /readyz and the status line. */
export interface SinkHealth {
  ok: boolean;
  detail?: string;
}

/**
 * Where the pipeline's outputs go: a Kafka topic, a ClickHouse table, a SIEM.
 *
 * Contract: `write` resolves only once everything in the batch is durable at the destination
 * (acknowledged by every replica the sink asks for, committed by the database), because the
 * pipeline commits the input offsets of a batch when every sink's write resolved. It rejects
 * with an AuthwatchError whose `retriable` says whether the same write may succeed later (a
 * broker that restarts) or never will (a topic it may not write to); the pipeline retries the
 * former and stops on the latter rather than lose output. Writes never overlap: the pipeline
 * awaits one before it starts the next, so a sink keeps its destination's order. A sink may
 * receive the same output again after a restart (delivery is at-least-once); alert and action
 * ids are deterministic so that destinations de-duplicate.
 */
export interface Sink {
  readonly name: string;
  write(batch: SinkBatch): Promise<void>;
  healthcheck(): Promise<SinkHealth>;
  close(): Promise<void>;
}

export function isEmptyBatch(batch: SinkBatch): boolean {
  return (
    batch.alerts.length === 0 &&
    batch.actions.length === 0 &&
    batch.deadLetters.length === 0 &&
    (batch.events?.length ?? 0) === 0 &&
    (batch.hits?.length ?? 0) === 0
  );
}
