import { AuthwatchError } from '../errors.js';

/**
 * Why a record could not become a canonical event. Stable: dead-letter records and the
 * `authwatch_dead_letters_total{reason}` counter carry these names.
 */
export const DECODE_ERROR_KINDS = [
  'too_large',
  'too_deep',
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'unknown_format',
  'invalid_field',
  'invalid_time',
  'schema_violation',
] as const;
export type DecodeErrorKind = (typeof DECODE_ERROR_KINDS)[number];

/** A record that is bad input. Never retriable: it goes to the dead-letter topic as it is. */
export class DecodeError extends AuthwatchError {
  constructor(
    readonly kind: DecodeErrorKind,
    message: string,
    /** The field at fault, as a dotted path into the original record, when there is one. */
    readonly field?: string,
  ) {
    super(message, { retriable: false });
  }
}
