/**
 * Base class of authwatch's errors. `retriable` tells the caller whether trying the same
 * operation again can succeed (a broker that is restarting) or not (bad input, bad config);
 * bad input is never retried, it goes to the dead-letter topic with its reason.
 */
export class AuthwatchError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** A configuration value is missing, malformed or contradicts another. */
export class ConfigError extends AuthwatchError {}

/** A service (Kafka, ClickHouse, a SIEM receiver) could not be reached or refused an operation. */
export class ServiceError extends AuthwatchError {
  constructor(
    readonly service: 'kafka' | 'clickhouse' | 'syslog' | 'hec' | 'webhook',
    message: string,
    options: { retriable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options);
  }
}
