import { pino, destination, stdTimeFunctions, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Creates the process logger: pino JSON on stderr, so stdout stays free for NDJSON alerts.
 * Messages are full sentences; structured fields go beside them, never inside them.
 * Fields named like credentials are redacted wherever they appear one or two levels deep.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const opts: LoggerOptions = {
    name: options.name ?? 'authwatch',
    level: options.level ?? process.env.AUTHWATCH_LOG_LEVEL ?? 'info',
    redact: {
      paths: [
        'password',
        '*.password',
        'sasl',
        '*.sasl',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'signing',
        '*.signing',
      ],
      censor: '[redacted]',
    },
    base: { pid: process.pid },
    timestamp: stdTimeFunctions.isoTime,
  };
  return pino(opts, destination({ dest: 2, sync: false }));
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
