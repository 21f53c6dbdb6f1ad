import { AuthwatchError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { sleep } from './signal.js';

/** Backoff between retries of a failed write: 200 ms doubling to 5 s. */
export function backoffMs(attempt: number): number {
  return Math.min(5000, 200 * 2 ** Math.min(attempt - 1, 5));
}

export function isRetriable(err: unknown): boolean {
  return err instanceof AuthwatchError ? err.retriable : false;
}

/** What a pipeline keeps of its writes' failures, for its health and metrics. */
export interface WriteHealth {
  /** Failed writes by `sink NUL retriable`. */
  sinkErrors: Map<string, number>;
  /** False from a failed write until one goes through. */
  ok: boolean;
  /** Set once the pipeline failed: a retriable error then ends the retries too. */
  failed(): boolean;
}

/**
 * Runs a write until it succeeds, waiting between tries, for as long as its errors are
 * retriable; nothing behind it is acknowledged meanwhile. Counts every failure, warns on the
 * first and every tenth, and says when a write that failed went through.
 */
export async function retrying<T>(
  sink: string,
  write: () => Promise<T>,
  health: WriteHealth,
  logger: Logger,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await write();
      if (attempt > 1) {
        health.ok = true;
        logger.info({ sink, attempts: attempt }, 'A write that failed went through on retry.');
      }
      return result;
    } catch (err) {
      const retriable = isRetriable(err);
      const key = `${sink}\u0000${retriable}`;
      health.sinkErrors.set(key, (health.sinkErrors.get(key) ?? 0) + 1);
      if (!retriable || health.failed()) throw err;
      health.ok = false;
      if (attempt === 1 || attempt % 10 === 0) {
        logger.warn({ err, sink, attempt }, 'A write failed; retrying. Nothing is acknowledged until it succeeds.');
      }
      await sleep(backoffMs(attempt));
    }
  }
}
