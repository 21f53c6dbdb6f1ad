import { once } from 'node:events';

/** Exit status of a command stopped by a second signal before it could finish its output. */
export const EXIT_FORCED = 1;

/**
 * A stop asked of a command that reads input to its end (`run` without Kafka, `replay`):
 * SIGTERM, SIGINT or SIGHUP, or the reader of stdout going away (`| head`). The command stops
 * reading, finishes what it has, flushes its outputs, prints its summary and exits 0: a
 * requested stop is a normal end. A second signal exits at once with EXIT_FORCED.
 *
 * Output to stdout goes through `write`, which after the reader went away drops the text
 * instead of raising EPIPE, and never waits for a drain that cannot come.
 */
export class StopRequest {
  private readonly controller = new AbortController();
  private stdoutClosed = false;
  private why: string | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.controller.signal.aborted) process.exit(EXIT_FORCED);
    this.stop(signal);
  };
  private readonly onStdoutError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    this.stdoutClosed = true;
    this.stop('stdout closed');
  };

  constructor(private readonly stdout: NodeJS.WriteStream = process.stdout) {
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, this.onSignal);
    stdout.on('error', this.onStdoutError);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why the command stopped early (`SIGTERM`, `stdout closed`), or undefined when it did not. */
  get reason(): string | undefined {
    return this.why;
  }

  stop(why: string): void {
    if (this.controller.signal.aborted) return;
    this.why = why;
    this.controller.abort();
  }

  /** Writes to stdout with backpressure, or nothing once its reader is gone. */
  async write(text: string): Promise<void> {
    if (this.stdoutClosed) return;
    if (this.stdout.write(text)) return;
    const closed = new Promise<void>((resolve) => this.stdout.once('error', () => resolve()));
    await Promise.race([once(this.stdout, 'drain'), closed]);
  }

  dispose(): void {
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.off(s, this.onSignal);
    this.stdout.off('error', this.onStdoutError);
    // Writes still queued after the reader left must not raise later.
    if (this.stdoutClosed) this.stdout.on('error', () => undefined);
  }
}
