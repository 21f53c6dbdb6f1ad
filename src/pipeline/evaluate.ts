import type { DroppedAction, Engine, EngineOutput } from '../engine/engine.js';
import type { AuthEvent } from '../events/authEvent.js';
import type { DeadLetter, RecordPosition } from '../events/deadLetter.js';
import type { Ingest } from '../events/ingest.js';
import { AuthwatchError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** What the engine produced for a batch of events: `EngineOutput` plus the dead letters. */
export interface EvaluationOutput extends EngineOutput {
  deadLetters: DeadLetter[];
}

export function emptyOutput(): EvaluationOutput {
  return { alerts: [], actions: [], dropped: [] as DroppedAction[], deadLetters: [] };
}

/**
 * Runs one decoded event through the engine (or the match stage's `match`), adding what it produced to `out`. An event the
 * engine fails on is not allowed to stop the stream: it becomes an `engine_error` dead letter
 * (after `attempts` tries when the failure says a retry may help), what it half-produced is
 * taken back, and the failure is logged with its stack as authwatch's own.
 */
export function evaluate(
  engine: Engine | ((event: AuthEvent, out: EngineOutput) => void),
  ingest: Ingest,
  event: AuthEvent,
  record: { bytes: Uint8Array; position: RecordPosition },
  out: EvaluationOutput,
  options: { attempts?: number; logger?: Logger } = {},
): void {
  for (let attempt = 1; ; attempt++) {
    const mark = { alerts: out.alerts.length, actions: out.actions.length, dropped: out.dropped.length };
    try {
      if (typeof engine === 'function') engine(event, out);
      else engine.process(event, out);
      return;
    } catch (err) {
      out.alerts.length = mark.alerts;
      out.actions.length = mark.actions;
      out.dropped.length = mark.dropped;
      const retriable = err instanceof AuthwatchError && err.retriable;
      if (retriable && attempt < (options.attempts ?? 1)) continue;
      ingest.uncountEvent(event);
      options.logger?.error(
        { err, position: record.position, event_id: event.id, attempts: attempt },
        'The engine failed on an event; it went to the dead letters as engine_error and the stream goes on.',
      );
      out.deadLetters.push(
        ingest.deadLetter(
          { kind: 'engine_error', message: `The engine failed on this event: ${String(err)}` },
          record.bytes,
          record.position,
        ),
      );
      return;
    }
  }
}
